"""Exception and warning classes of drtbayes.

Every failure a user can cause with their input is a :class:`DataError` (or a subclass), whose
message names the file, the row or column where it can, what is wrong and how to fix it. The
CLI prints that one line and exits with status 2.
"""

from __future__ import annotations


class DrtbayesError(Exception):
    """Base class of every error drtbayes raises on purpose."""


class DataError(DrtbayesError, ValueError):
    """Input data that cannot be used as it is."""


class FileFormatError(DataError):
    """A file whose format is not recognised, or that does not parse."""


class EmptyFileError(FileFormatError):
    """A file with no data rows."""


class TruncatedFileError(FileFormatError):
    """A file that ends before its header says it should."""


class EncodingError(FileFormatError):
    """A file whose bytes cannot be decoded as text."""


class ColumnError(DataError):
    """Required columns missing or not recognised."""


class ValueRangeError(DataError):
    """NaN, inf, non-positive frequency, or a value outside its physical range."""


class DuplicateError(DataError):
    """Repeated frequencies (or time stamps) that cannot be told apart."""


class SignConventionError(DataError):
    """The imaginary part looks sign-flipped (capacitive arcs must have Z'' < 0)."""


class TooFewPointsError(DataError):
    """Fewer points than the analysis needs."""


class TimeOrderError(DataError):
    """GITT time that is not increasing."""


class NoPulsesError(DataError):
    """No current pulses were found in a GITT record."""


class CapacityError(DataError):
    """A capacity that contradicts the charge passed in the record."""


class UnitError(DataError):
    """Units that are unknown or inconsistent (mA read as A, and so on)."""


class KramersKronigError(DataError):
    """A spectrum fails the Kramers-Kronig check and strict checking was asked for."""


class StudyFileError(DataError):
    """A study file with unknown keys, missing files or wrong types."""


class PresetError(DataError):
    """A model preset that is unknown or invalid."""


class OutputExistsError(DrtbayesError, FileExistsError):
    """An output file exists already and ``force`` was not given."""


class OutputPathError(DataError):
    """An output path drtbayes cannot or must not write.

    A folder, a device, a FIFO, a symbolic link, an input file, a read-only or non-writable
    place, or a name that is not UTF-8.
    """


class DiskFullError(OutputPathError):
    """The disk filled up while a result was written (nothing partial is left behind)."""


class OutputLockedError(OutputPathError):
    """Another drtbayes process is writing into the same output folder."""


class ResultFileError(DataError):
    """A saved result file that is damaged, truncated, not netCDF or of the wrong kind."""


class RunSizeError(DataError):
    """Sampler settings whose draws would not fit in memory (or exceed the hard bounds)."""


class DrtbayesWarning(UserWarning):
    """Base class of drtbayes warnings."""


class DataWarning(DrtbayesWarning):
    """Input data was usable but something was changed or looks suspicious."""


class KramersKronigWarning(DataWarning):
    """A spectrum's Kramers-Kronig residuals exceed the threshold."""


class SamplingWarning(DrtbayesWarning):
    """A fit failed the diagnostics gate (R-hat, ESS, divergences)."""


class ApproximationWarning(DrtbayesWarning):
    """A result comes from an approximate posterior (``--fast``)."""
