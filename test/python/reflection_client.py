#!/usr/bin/python3
"""A reflection-only steadytune client: no .proto of the API on this side. It does what
grpcurl and other generic tools do with Debian's python3-grpcio and python3-protobuf.

Usage: /usr/bin/python3 test/python/reflection_client.py HOST:PORT REFLECTION_PROTO_ROOT

REFLECTION_PROTO_ROOT holds grpc/reflection/v1/reflection.proto and .../v1alpha/reflection.proto
(the reflection protocol's own definitions; Debian packages no Python reflection client, so
protoc compiles them here). For each protocol version: list the services, fetch the files
defining them (and their dependencies, by file name) and build a descriptor pool from them,
which fails on made-up file names, missing dependencies or malformed map entries. Then,
through classes made from that pool alone: GetJob of an unknown id is NOT_FOUND, an invalid
spec's error details decode, StartFineTune of a tiny job succeeds and GetJob finds it.
Exits 0 on success, 1 on a failed check, 2 on a usage or setup error.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

VERSIONS = ["v1", "v1alpha"]
SERVICES = ["steadytune.v1.Trainer", "grpc.health.v1.Health"]
# Error details travel as google.rpc.Status in a trailer; a tool finds their types by name.
ERROR_TYPES = ["google.rpc.Status", "google.rpc.BadRequest"]
CALL_TIMEOUT_S = 30


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def load_reflection_modules(proto_root, out_dir):
    """reflection_pb2 per version, compiled by protoc and loaded by path: the generated package
    name (grpc.reflection...) would otherwise collide with the grpcio package."""
    if shutil.which("protoc") is None:
        raise SystemExit("setup: protoc is needed (apt-get install protobuf-compiler)")
    modules = {}
    for version in VERSIONS:
        relative = "grpc/reflection/%s/reflection.proto" % version
        subprocess.run(["protoc", "-I", proto_root, "--python_out", out_dir, relative], check=True)
        generated = os.path.join(out_dir, relative.replace(".proto", "_pb2.py"))
        spec = importlib.util.spec_from_file_location("reflection_%s_pb2" % version, generated)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[version] = module
    return modules


class ReflectionClient:
    def __init__(self, channel, version, reflection_pb2):
        self.pb2 = reflection_pb2
        self.version = version
        self.call = channel.stream_stream(
            "/grpc.reflection.%s.ServerReflection/ServerReflectionInfo" % version,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )

    def ask(self, **fields):
        request = self.pb2.ServerReflectionRequest(**fields)
        responses = list(self.call(iter([request]), timeout=CALL_TIMEOUT_S))
        check(len(responses) == 1, "%s: %d responses to one request" % (self.version, len(responses)))
        response = responses[0]
        if response.WhichOneof("message_response") == "error_response":
            error = response.error_response
            raise CheckFailed("%s: %s -> error %d %s" % (self.version, fields, error.error_code, error.error_message))
        return response

    def list_services(self):
        return [s.name for s in self.ask(list_services="*").list_services_response.service]

    def files(self, **query):
        protos = []
        for raw in self.ask(**query).file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto()
            proto.ParseFromString(raw)
            protos.append(proto)
        return protos


def build_pool(client, symbols):
    """What a reflection-based tool does: fetch by symbol, then any missing import by name."""
    known = {}
    for symbol in symbols:
        for proto in client.files(file_containing_symbol=symbol):
            known.setdefault(proto.name, proto)
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name, chain):
        if name in added:
            return
        check(name not in chain, "%s: import cycle %s" % (client.version, chain + [name]))
        if name not in known:
            found = client.files(file_by_filename=name)
            check(found and found[0].name == name, "%s: asked for %s, got %s" % (client.version, name, [f.name for f in found]))
            for proto in found:
                known.setdefault(proto.name, proto)
        for dependency in known[name].dependency:
            add(dependency, chain + [name])
        try:
            pool.Add(known[name])
        except TypeError as error:  # what the C++ pool raises for an invalid file
            raise CheckFailed("%s: the descriptor pool rejects %s: %s" % (client.version, name, error))
        added.add(name)

    for name in list(known):
        add(name, [])
    return pool, sorted(added)


def check_descriptors(client, pool, files):
    check("steadytune/v1/trainer.proto" in files, "%s: no steadytune/v1/trainer.proto in %s" % (client.version, files))
    expected_files = ["steadytune/v1/spec.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto"]
    for expected in expected_files + ["google/rpc/error_details.proto", "grpc/health/v1/health.proto"]:
        check(expected in files, "%s: %s missing from %s" % (client.version, expected, files))
    trainer = pool.FindFileByName("steadytune/v1/trainer.proto")
    check("steadytune/v1/spec.proto" in [d.name for d in trainer.dependencies], "trainer.proto does not import spec.proto")
    spec = pool.FindMessageTypeByName("steadytune.v1.FineTuneSpec")
    check("batch_size" in spec.fields_by_name, "FineTuneSpec fields are %s" % list(spec.fields_by_name))
    statuses = pool.FindMessageTypeByName("grpc.health.v1.HealthListResponse").fields_by_name["statuses"]
    check(statuses.message_type.GetOptions().map_entry, "HealthListResponse.statuses is not a map")
    by_name = client.files(file_by_filename="steadytune/v1/spec.proto")
    check(by_name[0].name == "steadytune/v1/spec.proto", "%s: file_by_filename gave %s" % (client.version, by_name[0].name))
    print("%s: pool of %d files: %s" % (client.version, len(files), ", ".join(files)))


def message_class(pool, name):
    descriptor = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21 (upb)
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def unary(channel, pool, method, request_json):
    """A call built from the pool alone, the request given as JSON (as grpcurl -d takes it)."""
    service = pool.FindServiceByName("steadytune.v1.Trainer")
    descriptor = service.methods_by_name[method]
    request_class = message_class(pool, descriptor.input_type.full_name)
    response_class = message_class(pool, descriptor.output_type.full_name)
    call = channel.unary_unary(
        "/%s/%s" % (service.full_name, method),
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    request = json_format.ParseDict(request_json, request_class())
    return json_format.MessageToDict(call(request, timeout=CALL_TIMEOUT_S), preserving_proto_field_name=True)


def check_rich_error(channel, pool):
    """An invalid spec: INVALID_ARGUMENT with a BadRequest decoded through reflected types only."""
    job = tiny_job()
    job["spec"]["batch_size"] = 5000
    try:
        unary(channel, pool, "StartFineTune", job)
        raise CheckFailed("an invalid spec was accepted")
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.INVALID_ARGUMENT, "invalid spec: %s" % error.code())
        raw = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    check(raw is not None, "no grpc-status-details-bin trailer")
    status = message_class(pool, "google.rpc.Status").FromString(raw)
    check(len(status.details) > 0, "google.rpc.Status without details")
    detail = status.details[0]
    check(detail.type_url.endswith("/google.rpc.BadRequest"), "details[0] is a %s" % detail.type_url)
    bad_request = message_class(pool, "google.rpc.BadRequest").FromString(detail.value)
    fields = [violation.field for violation in bad_request.field_violations]
    check("spec.batch_size" in fields, "BadRequest names %s, not spec.batch_size" % fields)
    print("invalid spec: INVALID_ARGUMENT, BadRequest fields %s" % fields)


def tiny_job():
    def mnist(split, max_examples):
        return {"builtin": {"name": "BUILTIN_NAME_MNIST", "split": split}, "max_examples": max_examples}

    return {
        "display_name": "python-reflection-client",
        "spec": {
            "train": mnist("BUILTIN_SPLIT_TRAIN", 64),
            "validation": mnist("BUILTIN_SPLIT_VALIDATION", 32),
            "model": {"mlp": {"hidden_units": [8]}},
            "method": {"dsgd": {"lambda": 1.0}},
            "batch_size": 32,
            "epochs": 1,
            "seeds": [5],
        },
    }


def run(address, modules):
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=CALL_TIMEOUT_S)
        pool = None
        for version in VERSIONS:
            client = ReflectionClient(channel, version, modules[version])
            services = client.list_services()
            print("%s: services %s" % (version, ", ".join(services)))
            for service in SERVICES:
                check(service in services, "%s: %s not listed" % (version, service))
            pool, files = build_pool(client, SERVICES + ERROR_TYPES)
            check_descriptors(client, pool, files)

        try:
            unary(channel, pool, "GetJob", {"job_id": "no-such-job"})
            raise CheckFailed("GetJob of an unknown id succeeded")
        except grpc.RpcError as error:
            check(error.code() == grpc.StatusCode.NOT_FOUND, "GetJob of an unknown id: %s" % error.code())
        print("GetJob(no-such-job): NOT_FOUND")

        check_rich_error(channel, pool)
        started = unary(channel, pool, "StartFineTune", tiny_job())
        job_id = started.get("job", {}).get("id", "")
        check(job_id != "", "StartFineTune returned %s" % started)
        check(started.get("created") is True, "StartFineTune did not create a job: %s" % started)
        found = unary(channel, pool, "GetJob", {"job_id": job_id})
        check(found["job"]["id"] == job_id, "GetJob returned %s" % found)
        print("StartFineTune: job %s, GetJob: %s" % (job_id, found["job"].get("state")))


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="steadytune-reflect-") as out_dir:
        modules = load_reflection_modules(argv[2], out_dir)
        try:
            run(argv[1], modules)
        except CheckFailed as failure:
            print("FAILED: %s" % failure, file=sys.stderr)
            return 1
    print("python reflection client: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
