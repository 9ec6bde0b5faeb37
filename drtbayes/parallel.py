from .inference.parallel import *  # noqa: D100,F401,F403  shim: remove after merge
