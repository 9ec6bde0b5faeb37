from .inference.parallel import *  # noqa: F401,F403  shim: remove after merge
