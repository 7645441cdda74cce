"""``python -m camsvc.simulate``: the same as ``camsvc simulate``."""

from camsvc.cli.simulate import simulate

if __name__ == "__main__":  # pragma: no cover
    simulate(prog_name="python -m camsvc.simulate")
