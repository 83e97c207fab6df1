# Writes OUT: a C++ file returning the migrations FILES as {file name, SQL} pairs.
set(body "")
string(REPLACE "|" ";" files "${FILES}")
foreach(f ${files})
  get_filename_component(fname ${f} NAME)
  file(READ ${f} sql)
  string(APPEND body "      {\"${fname}\", R\"samplan_sql(${sql})samplan_sql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp
"// Generated from the migrations folder by cmake/embed_migrations.cmake.\n#include \"common/migrations.h\"\n\nnamespace samplan {\n\nconst std::vector<Migration>& ${NAME}() {\n  static const std::vector<Migration> kMigrations = {\n${body}  };\n  return kMigrations;\n}\n\n}  // namespace samplan\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
