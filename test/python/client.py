#!/usr/bin/python3
"""An independent steadytune client: Debian's python3-grpcio plus stubs that protoc generates
from proto/ at run time. It proves the contract is usable without our TypeScript SDK.

Usage: /usr/bin/python3 test/python/client.py HOST:PORT

Starts a tiny DSGD fine-tune, streams its metrics to the end and checks that sequences are
dense (1, 2, 3, ...) and the job ends SUCCEEDED. It also checks that an invalid request comes
back INVALID_ARGUMENT with a google.rpc.BadRequest in the grpc-status-details-bin trailer.
Exits 0 on success, 1 on a failed check, 2 on a usage or setup error.
"""
import importlib
import os
import shutil
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_ROOT = os.path.join(REPO_ROOT, "proto")
PROTO_FILES = [
    "steadytune/v1/dataset.proto",
    "steadytune/v1/spec.proto",
    "steadytune/v1/trainer.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
]
STREAM_DEADLINE_S = 300


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def generate_stubs(out_dir):
    """protoc + grpc_python_plugin (Debian protobuf-compiler-grpc) into out_dir."""
    plugin = shutil.which("grpc_python_plugin")
    if plugin is None or shutil.which("protoc") is None:
        raise SystemExit("setup: protoc and grpc_python_plugin are needed (apt-get install protobuf-compiler-grpc)")
    command = [
        "protoc",
        "-I", PROTO_ROOT,
        "--python_out", out_dir,
        "--grpc_python_out", out_dir,
        "--plugin=protoc-gen-grpc_python=" + plugin,
    ] + PROTO_FILES
    subprocess.run(command, check=True)
    sys.path.insert(0, out_dir)


def tiny_spec(spec_pb2):
    def mnist(split, max_examples):
        return spec_pb2.DatasetRef(
            builtin=spec_pb2.BuiltinDataset(name=spec_pb2.BUILTIN_NAME_MNIST, split=split),
            max_examples=max_examples,
        )

    return spec_pb2.FineTuneSpec(
        train=mnist(spec_pb2.BUILTIN_SPLIT_TRAIN, 256),
        validation=mnist(spec_pb2.BUILTIN_SPLIT_VALIDATION, 128),
        model=spec_pb2.ModelSpec(mlp=spec_pb2.MlpModel(hidden_units=[16])),
        method=spec_pb2.MethodSpec(dsgd=spec_pb2.Dsgd(**{"lambda": 1.0})),
        batch_size=32,
        epochs=1,
        seeds=[5],
    )


def check_rich_error(grpc, stub, trainer_pb2, spec_pb2, status_pb2, error_details_pb2):
    spec = tiny_spec(spec_pb2)
    spec.batch_size = 5000
    try:
        stub.StartFineTune(trainer_pb2.StartFineTuneRequest(spec=spec), timeout=30)
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.INVALID_ARGUMENT, "expected INVALID_ARGUMENT, got %s" % error.code())
        trailers = dict(error.trailing_metadata() or ())
        raw = trailers.get("grpc-status-details-bin")
        check(raw is not None, "no grpc-status-details-bin trailer")
        status = status_pb2.Status.FromString(raw)
        bad_request = error_details_pb2.BadRequest()
        check(len(status.details) > 0 and status.details[0].Unpack(bad_request), "details[0] is not a BadRequest")
        fields = [v.field for v in bad_request.field_violations]
        check("spec.batch_size" in fields, "BadRequest names %s, not spec.batch_size" % fields)
        print("invalid request: INVALID_ARGUMENT, BadRequest fields %s" % fields)
        return
    raise CheckFailed("an invalid spec was accepted")


def run(address):
    grpc = importlib.import_module("grpc")
    spec_pb2 = importlib.import_module("steadytune.v1.spec_pb2")
    trainer_pb2 = importlib.import_module("steadytune.v1.trainer_pb2")
    trainer_pb2_grpc = importlib.import_module("steadytune.v1.trainer_pb2_grpc")
    status_pb2 = importlib.import_module("google.rpc.status_pb2")
    error_details_pb2 = importlib.import_module("google.rpc.error_details_pb2")

    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = trainer_pb2_grpc.TrainerStub(channel)
        check_rich_error(grpc, stub, trainer_pb2, spec_pb2, status_pb2, error_details_pb2)

        started = stub.StartFineTune(
            trainer_pb2.StartFineTuneRequest(spec=tiny_spec(spec_pb2), display_name="python-client"), timeout=30
        )
        job_id = started.job.id
        check(started.created, "StartFineTune did not create a job")
        print("started job %s" % job_id)

        expected_sequence = 1
        steps = 0
        final_state = trainer_pb2.JOB_STATE_UNSPECIFIED
        request = trainer_pb2.StreamMetricsRequest(job_id=job_id, from_sequence=0)
        for event in stub.StreamMetrics(request, timeout=STREAM_DEADLINE_S):
            check(event.sequence == expected_sequence, "sequence %d, expected %d" % (event.sequence, expected_sequence))
            expected_sequence += 1
            kind = event.WhichOneof("event")
            if kind == "step":
                steps += 1
            elif kind == "state_changed":
                final_state = event.state_changed.state
        events = expected_sequence - 1
        print("streamed %d events (%d steps), last state %s" % (events, steps, trainer_pb2.JobState.Name(final_state)))
        check(steps > 0, "no step events")
        check(final_state == trainer_pb2.JOB_STATE_SUCCEEDED, "stream ended in %s" % trainer_pb2.JobState.Name(final_state))

        job = stub.GetJob(trainer_pb2.GetJobRequest(job_id=job_id), timeout=30).job
        check(job.state == trainer_pb2.JOB_STATE_SUCCEEDED, "GetJob says %s" % trainer_pb2.JobState.Name(job.state))
        check(job.last_sequence == events, "last_sequence %d, streamed %d" % (job.last_sequence, events))
        print("job %s SUCCEEDED, accuracy %.3f" % (job_id, job.summary.accuracy.mean))


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="steadytune-py-") as out_dir:
        generate_stubs(out_dir)
        try:
            run(argv[1])
        except CheckFailed as failure:
            print("FAILED: %s" % failure, file=sys.stderr)
            return 1
    print("python client: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
