# Writes OUT: a C++ file whose function NAMESPACE::NAME() returns the text of FILE.
file(READ ${FILE} text)
file(WRITE ${OUT}.tmp
"// Generated from ${FILE} by cmake/embed_text.cmake.\n#include <string>\n\nnamespace ${NAMESPACE} {\n\nconst std::string& ${NAME}() {\n  static const std::string kText = R\"samplan_text(${text})samplan_text\";\n  return kText;\n}\n\n}  // namespace ${NAMESPACE}\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
