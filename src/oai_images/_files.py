"""Image files: atomic writes that never overwrite silently, names that match the bytes, and the viewer."""

from __future__ import annotations

import errno
import os
import re
import secrets
import sys
import time
import unicodedata
from pathlib import Path

from ._errors import OAIImagesError

__all__ = ["image_extension", "open_in_default_viewer", "slug", "write_image"]

# Magic numbers of the formats the API returns (png, jpeg, webp; gif and svg in preview).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
)


def image_extension(data: bytes) -> str:
    """The file extension for image bytes, from their magic number: ``.png``, ``.jpg``, ``.webp``, ``.gif``,
    ``.svg``, or ``.bin`` for anything else (saved anyway: a paid image is never thrown away)."""  # noqa: D205, D209 - one sentence over two lines
    for signature, extension in _SIGNATURES:
        if data.startswith(signature):
            return extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        return ".svg"
    return ".bin"


def write_image(data: bytes, destination: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write image bytes to a file atomically and return its path.

    Args:
        data: The image bytes.
        destination: A file path, or a folder (an existing one, or a path ending in a separator), which gets
            a generated unique name; ``~`` is expanded. The file's extension is always the one the bytes call
            for: it is added to a name without one, and replaces an image extension that says otherwise
            (``out.jpg`` holding PNG bytes is written as ``out.png``).
        overwrite: Replace an existing file instead of raising.

    Raises:
        FileExistsError: The file exists and ``overwrite`` is False.
        OSError: The file could not be written; nothing is left behind.
    """
    text = os.path.expanduser(os.fspath(destination))
    target = Path(text)
    extension = image_extension(data)
    if target.is_dir() or text.endswith(("/", os.sep)):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = target / f"image-{stamp}-{secrets.token_hex(4)}{extension}"
    else:
        target = target.with_name(_named_for(target.name, extension))
    target.parent.mkdir(parents=True, exist_ok=True)
    # The bytes go to a temporary file in the same folder, then take the final name in one step, so a
    # reader never sees half an image.
    # A short name of its own, so that a target name near the file system's limit still has room.
    partial = target.with_name(f".oai-images-{secrets.token_hex(6)}.part")
    # Everything from the creation of the temporary file on is inside the `try`: an interrupt landing
    # anywhere (even between the open and the assignment) still reaches the clean-up, which removes the
    # file by its name. The clean-up runs twice, so that an interrupt landing before the first has begun
    # is caught by the second, and each retries its removal when interrupted during it (see `_discard`).
    opened: list[int] = []
    try:
        try:
            # os.open (unlike mkstemp) keeps the usual umask permissions; the descriptor goes straight
            # into a list the clean-up reads, so no interrupt can lose it.
            opened.append(os.open(partial, _CREATE, 0o666))
            _write_all(opened[0], data)
            os.fsync(opened[0])
            os.close(opened.pop())
            if overwrite:
                os.replace(partial, target)
            else:
                _place_without_overwriting(partial, target)
        finally:
            for descriptor in opened:
                os.close(descriptor)
            _discard(partial)
    finally:
        _discard(partial)
    return target


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _discard(path: Path) -> None:
    """Remove ``path`` if it exists, even when interrupted (Ctrl-C) meanwhile; then re-raise the interrupt.

    The removal is retried after each interrupt, so a temporary file never outlives a save.
    """
    name = os.fspath(path)
    interrupted: BaseException | None = None
    while True:
        try:
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
            except OSError:
                return  # not ours to remove (already renamed by a racing writer, a read-only folder)
            break
        except BaseException as exc:
            interrupted = exc
    if interrupted is not None:
        raise interrupted


# Extensions that name an image format; another one in a file name is kept as part of the name.
_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".svg", ".bin"})
_SAME_FORMAT = {".jpeg": ".jpg"}


def _named_for(name: str, extension: str) -> str:
    """A file name ending in ``extension``: ``fox`` and ``fox.v2`` gain it, ``fox.jpg`` of a PNG becomes
    ``fox.png``, and ``fox.jpeg`` of a JPEG stays as it is."""  # noqa: D205, D209 - one sentence
    name = name.rstrip(". ")  # Windows drops trailing dots and spaces; nobody means them
    stem, dot, suffix = name.rpartition(".")
    current = f"{dot}{suffix}".lower() if dot and stem else ""
    if current not in _IMAGE_SUFFIXES:
        return name + extension
    if _SAME_FORMAT.get(current, current) == extension or extension == ".bin":
        return name  # the bytes agree, or are of no format we know: the caller's name stands
    return stem + extension


def _place_without_overwriting(partial: Path, target: Path) -> None:
    """Give ``partial`` the name ``target`` unless that exists; a hard link makes the check atomic."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise _exists(target) from None
    except OSError:  # a file system without hard links: check, then rename
        if target.exists():
            raise _exists(target) from None
        os.replace(partial, target)


def _exists(target: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "file exists; pass overwrite=True to replace it", str(target))


def open_in_default_viewer(path: Path) -> None:
    """Open a file with the platform's default application: ``os.startfile``, ``open`` or ``xdg-open``,
    else the web browser.

    Raises:
        OAIImagesError: No display, or nothing that can open the file.
    """  # noqa: D205 - the summary names the openers and needs two lines
    # Imported here: only showing needs them, and they would add to every `import oai_images`.
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import webbrowser  # noqa: PLC0415

    if sys.platform == "win32":
        os.startfile(path)  # noqa: S606 - opening a file we just wrote with its registered application
        return
    if sys.platform == "darwin":
        command = ["open", str(path)]
    else:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise OAIImagesError(f"no display available to show the image; it is saved at {path}")
        xdg_open = shutil.which("xdg-open")
        if xdg_open is None:
            if not webbrowser.open(path.as_uri()):
                raise OAIImagesError(f"found no viewer or browser to show the image; it is saved at {path}")
            return
        command = [xdg_open, str(path)]
    try:
        # Detached: the viewer outlives this call, and its output is not ours to print.
        subprocess.Popen(  # noqa: S603 - fixed program, the argument is a path we wrote
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
    except OSError as exc:
        raise OAIImagesError(f"could not open a viewer ({exc}); the image is saved at {path}") from exc


def slug(prompt: str, limit: int = 40) -> str:
    """A filesystem-safe slug of the prompt: ASCII letters, digits and dashes only."""
    text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:limit].rstrip("-") or "image"
