"""The distribution engine of the running backend, and what a job needs to train under it.

It imports TensorFlow on the TensorFlow backend only, for `tf.distribute`; the
rest is `keras.distribution`.
"""

import contextlib

import keras

# The devices a distribution takes, fastest kind first, as JAX and TF name them.
_ACCELERATORS = ("TPU", "GPU")
_STRATEGIES = {}  # TensorFlow's, by their devices


def make_distribution(data_parallel=1, model_parallel=1, model_class=None):
    """The running backend's engine for `data_parallel x model_parallel` devices.

    - JAX: `keras.distribution.DataParallel` over `data_parallel` devices, or with
      `model_parallel > 1` a `keras.distribution.ModelParallel` over a
      `(data_parallel, model_parallel)` mesh with axes `("batch", "model")` and
      `model_class.get_layout_map(mesh)`.
    - TensorFlow: `tf.distribute.MirroredStrategy` over `data_parallel` devices;
      model parallelism is refused (use JAX).
    - torch: refused; Keras 3.15 has no torch distribution.

    The devices are the accelerators if there are any (TPUs, GPUs), else the
    CPU devices; on a CPU, virtual devices come from
    `XLA_FLAGS=--xla_force_host_platform_device_count=N` (JAX) or
    `tf.config.set_logical_device_configuration` (TensorFlow), set before the
    backend starts.

    Args:
        data_parallel: int, replicas the batch is split over. Defaults to `1`.
        model_parallel: int, devices each replica's weights are split over.
            Defaults to `1`.
        model_class: the application to shard when `model_parallel > 1`; it must
            have a `get_layout_map` classmethod (the Transformer applications).

    Returns:
        `None` for one device, else a `keras.distribution.Distribution` (JAX) or
        a `tf.distribute.Strategy` (TensorFlow), for `scope()` and the training
        jobs' `distribution=` argument.
    """
    for name, value in (("data_parallel", data_parallel), ("model_parallel", model_parallel)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    if data_parallel * model_parallel == 1:
        return None
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax_distribution(data_parallel, model_parallel, model_class)
    if backend == "tensorflow":
        return _mirrored_strategy(data_parallel, model_parallel)
    raise ValueError(
        f"Keras {keras.version()} has no distribution for the {backend} backend, so "
        f"training on {data_parallel * model_parallel} devices needs another backend: "
        f"`--backend jax` (data and model parallel) or `--backend tensorflow` (data "
        f"parallel). Received: data_parallel={data_parallel}, "
        f"model_parallel={model_parallel} on {backend}"
    )


def _jax_distribution(data_parallel, model_parallel, model_class):
    get_layout_map = getattr(model_class, "get_layout_map", None)
    if model_parallel > 1 and get_layout_map is None:
        name = getattr(model_class, "__name__", repr(model_class))
        raise ValueError(
            f"{name} trains data parallel only: model parallelism here is the Megatron "
            f"split of attention heads and MLP kernels, which only the Transformer "
            f"applications have (`get_layout_map`). Use model_parallel=1. Received: "
            f"model_parallel={model_parallel} for {name}"
        )
    devices = keras.distribution.list_devices()
    needed = data_parallel * model_parallel
    _check_enough(needed, devices, data_parallel, model_parallel)
    if model_parallel == 1:
        return keras.distribution.DataParallel(devices=devices[:needed])
    mesh = keras.distribution.DeviceMesh(
        (data_parallel, model_parallel), ("batch", "model"), devices[:needed]
    )
    return keras.distribution.ModelParallel(layout_map=get_layout_map(mesh), batch_dim_name="batch")


def _mirrored_strategy(data_parallel, model_parallel):
    import tensorflow as tf

    if model_parallel > 1:
        raise ValueError(
            "tf.distribute's MirroredStrategy copies the whole model to every device, so "
            "TensorFlow trains data parallel only: for model parallelism use `--backend "
            f"jax`. Received: model_parallel={model_parallel} on tensorflow"
        )
    devices = next(
        (found for kind in _ACCELERATORS if (found := tf.config.list_logical_devices(kind))),
        tf.config.list_logical_devices("CPU"),
    )
    names = tuple(d.name for d in devices)
    _check_enough(data_parallel, names, data_parallel, model_parallel)
    # One strategy per set of devices: a second MirroredStrategy in a process breaks
    # the collectives of models trained under the first (tensorflow/tensorflow#62790:
    # "Shape mismatch in the collective instance"), so a later call gets the same one.
    key = names[:data_parallel]
    if key not in _STRATEGIES:
        _STRATEGIES[key] = tf.distribute.MirroredStrategy(list(key))
    return _STRATEGIES[key]


def _check_enough(needed, devices, data_parallel, model_parallel):
    if needed > len(devices):
        virtual = (
            f"XLA_FLAGS=--xla_force_host_platform_device_count={needed} before JAX starts"
            if keras.backend.backend() == "jax"
            else f"tf.config.set_logical_device_configuration (with {needed} "
            f"LogicalDeviceConfigurations) before TensorFlow starts"
        )
        raise ValueError(
            f"{data_parallel} x {model_parallel} = {needed} devices were asked for, and "
            f"this machine has {len(devices)}: {list(devices)}. On a CPU, make virtual "
            f"devices with {virtual}. Received: data_parallel={data_parallel}, "
            f"model_parallel={model_parallel}"
        )


def scope(distribution):
    """`distribution.scope()`, or a context that does nothing for `None`."""
    return contextlib.nullcontext() if distribution is None else distribution.scope()


def num_replicas(distribution):
    """How many parts each batch is split into under `distribution` (1 for `None`)."""
    if distribution is None:
        return 1
    if _is_strategy(distribution):
        return distribution.num_replicas_in_sync
    mesh = distribution.device_mesh  # a keras.distribution one
    return mesh.shape[mesh.axis_names.index(distribution.batch_dim_name)]


def _is_strategy(distribution):
    """Whether `distribution` is TensorFlow's (`tf.distribute.Strategy`), not Keras's."""
    return hasattr(distribution, "num_replicas_in_sync")


def check_batch_size(batch_size, distribution):
    """Refuses a global `batch_size` that does not split evenly over the replicas."""
    replicas = num_replicas(distribution)
    if batch_size % replicas:
        raise ValueError(
            f"The batch of {batch_size} examples is split over {replicas} data-parallel "
            f"replicas, so it must divide by {replicas}: use a batch size of "
            f"{round_batch_size(batch_size, distribution)}, say. Received: "
            f"batch_size={batch_size}"
        )


def round_batch_size(batch_size, distribution):
    """`batch_size` rounded down to a multiple of the replicas (at least one each)."""
    replicas = num_replicas(distribution)
    return max(batch_size // replicas, 1) * replicas
