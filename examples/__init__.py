"""Bundled example networks (``*.toml``) and their datasets (``data/*.npz``)."""

from importlib.resources import files

__all__ = ["example_path", "data_path", "EXAMPLES", "BENCH_NETS", "DEFAULT"]

EXAMPLES = ("xor", "iris", "dag", "teacher_2_4_3", "tanh_2_2_1")
#: Bundled networks without a dataset yet, used by the hardware benchmarks.
BENCH_NETS = ("digits",)
#: The network `make demo` and `pcfpga demo` use.
DEFAULT = "xor"


def example_path(name: str):
    """Path of the bundled ``examples/<name>.toml``."""
    return files(__name__) / f"{name}.toml"


def data_path(name: str):
    """Path of the bundled ``examples/data/<name>.npz``."""
    return files(__name__) / "data" / f"{name}.npz"
