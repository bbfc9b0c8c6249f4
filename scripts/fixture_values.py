"""The weights of the fixtures made by make-family-fixture.py and make-llava-fixture.py, as FamilyFixtureTests
computes them again: element i of a tensor is SplitMix64's i-th draw seeded by the FNV-1a hash of the tensor's name."""
import numpy

MASK = (1 << 64) - 1


def splitmix64(seed, index):
    """mop's SeededRandom.output(seed:index:): the index-th draw of SplitMix64 seeded with seed."""
    z = (seed + (index + 1) * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fnv1a(name):
    """FNV-1a, 64 bits, of the name's UTF-8 bytes: each tensor's seed."""
    return fnv1a_bytes(name.encode("utf-8"))


def fnv1a_bytes(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def values(name, count, one_dimensional, init_std):
    """Uniform values of standard deviation init_std (matrices), or 1 + uniform of deviation 0.3 (1-D tensors: norms
    start at one in transformers; random ones test that each norm and bias is applied with its own values), fp32."""
    seed = fnv1a(name)
    unit = numpy.array([float(splitmix64(seed, i) >> 11) / float(1 << 53) * 2 - 1 for i in range(count)]).astype(numpy.float32)
    if one_dimensional:
        return numpy.float32(1) + unit * numpy.float32(0.3 * 3 ** 0.5)
    return unit * numpy.float32(init_std * 3 ** 0.5)
