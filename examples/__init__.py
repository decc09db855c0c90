"""Bundled example networks (``*.toml``) and their datasets (``data/*.npz``)."""

from importlib.resources import files

__all__ = ["example_path", "data_path", "split_paths", "EXAMPLES", "BENCH_NETS", "SPLITS",
           "DEFAULT"]

EXAMPLES = ("xor", "iris", "dag", "teacher_2_4_3", "tanh_2_2_1")
#: Bundled networks too large for the per-example test matrix (digits: 2,554 multipliers
#: fully parallel); the benchmarks and ``pcfpga report`` use them.
BENCH_NETS = ("digits",)
#: Each bundled dataset's (training, test) files in ``data/`` (see ``make_data.py`` for
#: the fixed splits); XOR's four points are both.
SPLITS = {"xor": ("xor", "xor"), "iris": ("iris_train", "iris_test"),
          "digits": ("digits_train", "digits_test"), "dag": ("dag_train", "dag_test"),
          "teacher_2_4_3": ("teacher_2_4_3_train", "teacher_2_4_3_test"),
          "tanh_2_2_1": ("tanh_2_2_1_train", "tanh_2_2_1_test")}
#: The network `make demo` and `pcfpga demo` use.
DEFAULT = "xor"


def example_path(name: str):
    """Path of the bundled ``examples/<name>.toml``."""
    return files(__name__) / f"{name}.toml"


def data_path(name: str):
    """Path of the bundled ``examples/data/<name>.npz``."""
    return files(__name__) / "data" / f"{name}.npz"


def split_paths(name: str):
    """Paths of the (training, test) ``.npz`` files of a bundled network's dataset."""
    if name not in SPLITS:
        raise KeyError(f"no bundled dataset for {name!r}; there are {', '.join(SPLITS)}")
    return tuple(data_path(f) for f in SPLITS[name])
