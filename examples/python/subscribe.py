#!/usr/bin/python3
"""Follows a municipality's Samplan events as a partner agency, and resumes after a crash.

Uses Debian's python3-grpcio, python3-protobuf and python3-grpc-tools (run it with
/usr/bin/python3, which sees them). The gRPC stubs are generated from the .proto files
at start, into a temporary folder that is removed at exit.

    /usr/bin/python3 subscribe.py --address 127.0.0.1:50053 \\
        --token-file af.jwt --cursor-file af.cursor [--event-type caseplan.]

Every option also reads an environment variable: SAMPLAN_EVENTS_ADDRESS,
SAMPLAN_TOKEN_FILE, SAMPLAN_CURSOR_FILE, SAMPLAN_EVENT_TYPES (comma-separated),
SAMPLAN_PURPOSE, SAMPLAN_PROTO_DIR, SAMPLAN_SERVICE_CONFIG, SAMPLAN_TLS_CA_FILE,
SAMPLAN_TLS_CERT_FILE, SAMPLAN_TLS_KEY_FILE. With a CA file the connection is TLS, verified
against that CA, presenting the client certificate when one is given (servers that require
mutual TLS); the local start's are in .local/tls (source .local/tls/client.env).

The channel takes Samplan's published gRPC service config (docs/grpc_service_config.json:
round robin over the addresses, health-checked, calls that wait for a connection, and
which calls are retried on UNAVAILABLE), as every client of Samplan should.

Exit codes: 0 on Ctrl-C, 1 on an error the client cannot fix by reconnecting, 3 when the
token is rejected (get a fresh one and start again; the cursor is kept), 4 when the cursor
is older than the server keeps (resynchronise, then start again; the cursor is deleted).
"""

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time

import grpc
import grpc_tools
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))

# Ended streams worth reconnecting to with the last stored cursor: nothing is lost.
RETRY = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
         grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED}


def parse_args():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--address", default=env("SAMPLAN_EVENTS_ADDRESS", "127.0.0.1:50053"),
                   help="host:port of the EventService")
    p.add_argument("--token-file", default=env("SAMPLAN_TOKEN_FILE"),
                   help="file holding the agency's bearer token (JWT); read at every connect")
    p.add_argument("--cursor-file", default=env("SAMPLAN_CURSOR_FILE", "samplan.cursor"),
                   help="where the last processed cursor is kept")
    p.add_argument("--event-type", action="append", dest="event_types",
                   help='an event type or prefix ("caseplan.plan.updated", "caseplan."); '
                        "repeatable; default every type")
    p.add_argument("--purpose", default=env("SAMPLAN_PURPOSE", "coordination"))
    p.add_argument("--tls", action="store_true",
                   help="connect with TLS (system roots) instead of plaintext")
    p.add_argument("--ca-file", default=env("SAMPLAN_TLS_CA_FILE"),
                   help="TLS, with the server's certificate verified against this CA (PEM)")
    p.add_argument("--cert-file", default=env("SAMPLAN_TLS_CERT_FILE"),
                   help="client certificate (PEM), for servers that require one")
    p.add_argument("--key-file", default=env("SAMPLAN_TLS_KEY_FILE"),
                   help="the client certificate's private key (PEM)")
    p.add_argument("--service-config", default=env("SAMPLAN_SERVICE_CONFIG", os.path.join(
                       HERE, "..", "..", "docs", "grpc_service_config.json")),
                   help="the gRPC service config the channel uses (retries, balancing)")
    p.add_argument("--proto-dir", default=env("SAMPLAN_PROTO_DIR",
                                              os.path.join(HERE, "..", "..", "proto")))
    args = p.parse_args()
    if args.event_types is None:
        args.event_types = [t for t in env("SAMPLAN_EVENT_TYPES", "").split(",") if t]
    if not args.token_file:
        p.error("--token-file (or SAMPLAN_TOKEN_FILE) is required")
    if bool(args.cert_file) != bool(args.key_file):
        p.error("give --cert-file and --key-file together")
    return args


def channel_credentials(args):
    """TLS credentials from the CA and client certificate files, or None for plaintext."""
    if not args.ca_file and not args.tls:
        return None
    def read(path):
        with open(path, "rb") as f:
            return f.read()
    return grpc.ssl_channel_credentials(
        root_certificates=read(args.ca_file) if args.ca_file else None,
        private_key=read(args.key_file) if args.key_file else None,
        certificate_chain=read(args.cert_file) if args.cert_file else None)


def load_stubs(proto_dir, out_dir):
    """Generates the Python code of the event protos into out_dir and imports it."""
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    # The HTTP annotations too: event_service.proto imports them (the gateway's
    # mapping), so its generated code imports theirs.
    files = ["google/api/http.proto", "google/api/annotations.proto",
             "samplan/events/v1/event.proto", "samplan/events/v1/event_service.proto"]
    code = protoc.main(["protoc", "-I" + proto_dir, "-I" + well_known,
                        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
                       + [os.path.join(proto_dir, f) for f in files])
    if code != 0:
        sys.exit(f"error: could not generate stubs from {proto_dir}")
    sys.path.insert(0, out_dir)
    from samplan.events.v1 import event_service_pb2, event_service_pb2_grpc
    return event_service_pb2, event_service_pb2_grpc


def read_cursor(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def store_cursor(path, cursor):
    """Replaces the cursor file atomically: a crash leaves the old cursor or the new one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cursor-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cursor + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def process(delivered):
    """What an integration would do with one event; here, print it.

    An event only names what changed: fetch the record through its service (for a plan,
    CasePlanService.GetPlan), which checks consent again. If the process dies after this
    but before the cursor is stored, the event comes again: keep this idempotent (for
    example, skip an aggregate version you already have).
    """
    if delivered.HasField("consent_withdrawn"):
        n = delivered.consent_withdrawn
        print(f"{delivered.position} consent.withdrawn {n.person} consent={n.consent} "
              f"categories={','.join(n.data_categories)}: nothing more about this person "
              f"will come under this consent; apply your rules on withdrawn consent",
              flush=True)
        return
    e = delivered.event
    print(f"{delivered.position} {e.type} {e.aggregate} v{e.aggregate_version}", flush=True)


def follow(args, pb2, pb2_grpc):
    backoff = 1.0
    with open(args.service_config, encoding="utf-8") as f:
        channel_options = [("grpc.service_config", f.read()), ("grpc.enable_retries", 1)]
    while True:
        with open(args.token_file, encoding="utf-8") as f:
            token = f.read().strip()
        cursor = read_cursor(args.cursor_file)
        request = pb2.SubscribeRequest(event_types=args.event_types, cursor=cursor,
                                       purpose=args.purpose)
        request.heartbeat_interval.seconds = 15
        credentials = channel_credentials(args)  # read at every connect: renewed files count
        if credentials is not None:
            channel = grpc.secure_channel(args.address, credentials, options=channel_options)
        else:
            channel = grpc.insecure_channel(args.address, options=channel_options)
        try:
            stream = pb2_grpc.EventServiceStub(channel).Subscribe(
                request, metadata=[("authorization", "Bearer " + token)])
            for response in stream:
                for delivered in response.events:
                    process(delivered)
                # The contract: store the cursor once the message is processed.
                store_cursor(args.cursor_file, response.cursor)
                backoff = 1.0
            code, details = grpc.StatusCode.UNAVAILABLE, "the server ended the stream"
        except grpc.RpcError as err:
            code, details = err.code(), err.details()
        finally:
            channel.close()

        if code == grpc.StatusCode.OUT_OF_RANGE:
            # Resubscribing without a cursor would silently skip what was lost, so stop:
            # the integration must resynchronise first.
            print(f"error: OUT_OF_RANGE: {details}. The stale cursor {args.cursor_file} "
                  "has been deleted: resynchronise, then start again.", file=sys.stderr)
            try:
                os.unlink(args.cursor_file)
            except FileNotFoundError:
                pass
            sys.exit(4)
        if code == grpc.StatusCode.UNAUTHENTICATED:
            with open(args.token_file, encoding="utf-8") as f:
                if f.read().strip() != token:
                    print("token renewed; reconnecting", file=sys.stderr)
                    continue
            print(f"error: the token in {args.token_file} was refused ({details}). "
                  "Put a fresh token there and start again; the cursor is kept.",
                  file=sys.stderr)
            sys.exit(3)
        if code not in RETRY:
            print(f"error: {code.name}: {details}", file=sys.stderr)
            sys.exit(1)
        wait = backoff * random.uniform(0.5, 1.0)
        print(f"stream ended ({code.name}: {details}); reconnecting in {wait:.1f}s",
              file=sys.stderr)
        time.sleep(wait)
        backoff = min(backoff * 2, 30.0)


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    out_dir = tempfile.mkdtemp(prefix="samplan-stubs-")
    try:
        pb2, pb2_grpc = load_stubs(args.proto_dir, out_dir)
        follow(args, pb2, pb2_grpc)
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
