# Colab imports google.colab into every kernel it starts; so does this stand-in runtime.
import google.colab  # noqa: F401

# Optional, for benchmarks/bench_gpu_series.py: with FAKEFACE_SIM_GPU_STATS=<file> set, each
# process started with this folder on its path appends one JSON line to <file> when it exits:
# its pid, whether torch was imported and CUDA initialised, and then torch's peak GPU memory.
# A line with "cuda_initialized": false still says the handler ran.
import os as _os

if _os.environ.get("FAKEFACE_SIM_GPU_STATS"):
    import atexit as _atexit

    def _write_gpu_stats(path=_os.environ["FAKEFACE_SIM_GPU_STATS"], pid=_os.getpid()):
        import json
        import sys

        if _os.getpid() != pid:  # a forked child (a DataLoader worker) inherited the handler
            return
        record = {"pid": pid, "argv0": sys.argv[0] if sys.argv else "",
                  "torch_imported": "torch" in sys.modules, "cuda_initialized": False}
        torch = sys.modules.get("torch")
        try:
            if torch is not None and torch.cuda.is_initialized():
                devices = range(torch.cuda.device_count())
                record.update(
                    cuda_initialized=True,
                    device_name=torch.cuda.get_device_name(0),
                    max_memory_allocated=max(torch.cuda.max_memory_allocated(d) for d in devices),
                    max_memory_reserved=max(torch.cuda.max_memory_reserved(d) for d in devices))
        except Exception as err:  # noqa: BLE001 - a failed reading must not fail the exit
            record["error"] = f"{type(err).__name__}: {err}"
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    _atexit.register(_write_gpu_stats)
