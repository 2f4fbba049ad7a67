"""One error hierarchy. Each error carries a stable ``code``; only the UI writes user-facing words.

The worker posts ``{type: 'error', code, message}`` where ``message`` is the technical detail
(for logs and the CLI); the web UI maps ``code`` to its own sentence.
"""


class OffcutError(Exception):
    """Base class. ``code`` is a stable kebab-case identifier."""

    code = "internal"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.details = details


class EmptyFile(OffcutError):
    code = "empty-file"


class UnsupportedFormat(OffcutError):
    """A format Pillow cannot decode here (HEIC, AVIF, PDF...); ``details['format']`` names it."""

    code = "unsupported-format"


class CorruptImage(OffcutError):
    """An image file (it starts as one) that cannot be decoded: truncated or damaged."""

    code = "corrupt-image"


class NotAnImage(OffcutError):
    """A file that is no image at all (text, HTML, an archive...): it starts like none."""

    code = "not-an-image"


class ImageTooLarge(OffcutError):
    """Past the pixel limit (also what Pillow calls a decompression bomb); ``details`` has
    ``width``, ``height`` and ``limit``."""

    code = "image-too-large"


class ModelOutputError(OffcutError):
    """The model returned something that does not fit its record (wrong shape, NaN)."""

    code = "model-output"


class InvalidOption(OffcutError):
    code = "invalid-option"


class ImageTooSmall(OffcutError):
    """Too few pixels across (1x1, a 3 px strip) for the model to find anything in."""

    code = "image-too-small"


class NoSubjectFound(OffcutError):
    """The model kept nothing: the result would be a blank, fully transparent image."""

    code = "no-subject"


class OutOfMemory(OffcutError):
    """The machine ran out of memory on this image (Python's MemoryError)."""

    code = "out-of-memory"
