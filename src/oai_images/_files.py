"""Image files: atomic writes that never overwrite silently, names that match the bytes, and the viewer."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import string
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ._errors import OAIImagesError

__all__ = [
    "DEFAULT_NAME",
    "NAME_FIELDS",
    "Naming",
    "check_name_template",
    "display_problem",
    "file_stem",
    "image_extension",
    "open_in_default_viewer",
    "slug",
    "write_image",
]

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


# --- file names: the one scheme of `GeneratedImage.save` into a folder and of the command line -------------

#: The name a generated file gets in a folder, before its extension: ``20261129-130502-a-red-fox-1``.
DEFAULT_NAME = "{time}-{slug}-{index}"
#: What a name template may use: the prompt's slug, the image's number (from 1), a short id of its bytes
#: (the first 8 hex digits of their SHA-256), and when it was created (local time, ``%Y%m%d-%H%M%S``).
NAME_FIELDS = ("slug", "index", "id", "time")
#: Bytes a generated name may take, before ``-v2`` and the extension: well inside the 255 of common file
#: systems, leaving room for the partial-image suffix and the temporary ``.part`` name.
_MAX_STEM_BYTES = 160
_MAX_SLUG_BYTES = 60
# Device names Windows reserves in any folder, with any extension.
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)
# Characters no portable file name holds (Windows' list, which includes both path separators).
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def slug(prompt: str | None, *, max_bytes: int = _MAX_SLUG_BYTES) -> str:
    """A file-name-safe slug of a prompt: its letters and digits, lower case, joined by dashes.

    Latin letters lose their accents (``Crème brûlée`` → ``creme-brulee``); letters of other scripts stay
    as they are, NFKC-normalised (``日本の猫`` → ``日本の猫``). The slug holds no path separator, no dot
    and no space, and at most ``max_bytes`` bytes of UTF-8. A prompt with no letter or digit at all (only
    emoji, say) gives ``image-`` and 8 hex digits of its hash, so two such prompts never share a name;
    no prompt gives ``image``.
    """
    if not prompt:
        return "image"
    parts: list[str] = []
    for char in unicodedata.normalize("NFKC", prompt).lower():
        category = unicodedata.category(char)
        if char.isascii():
            parts.append(char if char.isalnum() else "-")
        elif category[0] in "LN":
            # A Latin letter with marks becomes its ASCII base; any other script's letter stays.
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            parts.append(base if base.isalnum() else char)
        elif category[0] == "M" and parts and not parts[-1].isascii():
            parts.append(char)  # a combining mark of a kept letter (Devanagari vowel signs, ...)
        else:
            parts.append("-")
    text = re.sub(r"-+", "-", "".join(parts)).strip("-")
    text = _truncate(text, max_bytes).rstrip("-")
    if not text:
        return "image-" + hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return text


def _truncate(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` bytes of UTF-8, never inside a character."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


def check_name_template(template: str) -> None:
    """Check a file name template before anything is generated.

    Raises:
        ValueError: The template names a field other than those of `NAME_FIELDS`, is malformed, or holds a
            path separator (it names files; the folder is given apart).
    """
    if any(separator in template for separator in ("/", "\\", os.sep)):
        raise ValueError(f"{template!r} holds a path separator; it names the file, give the folder apart")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(
            f"{template!r} is not a valid template ({exc}); use {{{{ and }}}} for braces"
        ) from exc
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in NAME_FIELDS or conversion or "{" in (spec or ""):
            known = ", ".join(f"{{{name}}}" for name in NAME_FIELDS)
            raise ValueError(f"{template!r} uses {{{field}}}, which is not one of {known}")
        if spec and field != "index":
            raise ValueError(f"{template!r}: only {{index}} takes a format, such as {{index:03d}}")
        if any(int(width) > _MAX_NAME_BYTES for width in re.findall(r"\d+", spec or "")):
            raise ValueError(f"{template!r}: a width over {_MAX_NAME_BYTES} cannot fit in a file name")
    try:
        template.format(slug="x", index=1, id="0" * 8, time="t")
    except (ValueError, OverflowError, MemoryError) as exc:
        raise ValueError(f"{template!r} is not a valid template ({type(exc).__name__}: {exc})") from None
    has_field = any(field is not None for _, field, _, _ in parsed)
    if not has_field and not _UNSAFE.sub("", template).strip(". "):
        raise ValueError(f"{template!r} gives an empty file name")


#: The longest file name most file systems take, in bytes.
_MAX_NAME_BYTES = 255


def file_stem(
    template: str, data: bytes, *, prompt: str | None, index: int, when: float | None = None
) -> str:
    """The file name (without extension) a template gives an image: the one naming scheme.

    Args:
        template: A `check_name_template`-valid template, such as `DEFAULT_NAME`.
        data: The image bytes (for ``{id}``).
        prompt: The prompt (for ``{slug}``); None gives ``image``.
        index: The image's number in its answer, from 1.
        when: When the image was created, in Unix seconds (for ``{time}``); None for now.

    Returns:
        A name safe on every common file system: no path separator or reserved character, no leading dot,
        not a Windows device name, and at most 160 bytes of UTF-8.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    digest = hashlib.sha256(data).hexdigest()[:8]
    text = template.format(slug=slug(prompt), index=index, id=digest, time=stamp)
    text = _UNSAFE.sub("-", text).strip(". ")
    text = _truncate(text, _MAX_STEM_BYTES).rstrip(". ") or "image"
    if text.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        text = f"{text}_"
    return text


@dataclass(frozen=True, slots=True)
class Naming:
    """How an image saved into a folder is named: a template, and what its fields are made of.

    Attributes:
        template: The name template (see `NAME_FIELDS`); the extension is added from the bytes.
        prompt: The prompt, for ``{slug}``.
        index: The image's number, for ``{index}``.
        when: When it was created (Unix seconds), for ``{time}``; None for now.
    """

    template: str = DEFAULT_NAME
    prompt: str | None = None
    index: int = 1
    when: float | None = None

    def stem(self, data: bytes) -> str:
        """The file name for these bytes, without extension."""
        return file_stem(self.template, data, prompt=self.prompt, index=self.index, when=self.when)


#: How many ``-vN`` names are tried before giving up on a folder.
_MAX_VERSIONS = 1000


def write_image(
    data: bytes,
    destination: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    naming: Naming | None = None,
    create_folder: bool = True,
) -> Path:
    """Write image bytes to a file atomically and return its path.

    Args:
        data: The image bytes.
        destination: A file path, or a folder (an existing one, or a path ending in a separator), where the
            file is named by ``naming``; ``~`` is expanded. The file's extension is always the one the bytes
            call for: it is added to a name without one, and replaces an image extension that says
            otherwise (``out.jpg`` holding PNG bytes is written as ``out.png``).
        overwrite: Replace an existing file instead of raising (in a folder: instead of adding ``-v2``).
        naming: How a file in a folder is named; `DEFAULT_NAME` with no prompt unless given. When the name
            is taken, ``-v2``, ``-v3``, ... is added: an earlier file is never replaced.
        create_folder: Make the file's folder when it is missing. False for a folder that must already be
            there (a run's output folder: one deleted meanwhile must not come back without its journal).

    Raises:
        FileExistsError: The file exists and ``overwrite`` is False.
        OSError: The file could not be written; nothing is left behind.
    """
    text = os.path.expanduser(os.fspath(destination))
    target = Path(text)
    extension = image_extension(data)
    if target.is_dir() or text.endswith(("/", os.sep)):
        stem = (naming or Naming()).stem(data)
        for version in range(1, _MAX_VERSIONS + 1):
            name = stem if version == 1 else f"{stem}-v{version}"
            try:
                return _write(data, target / f"{name}{extension}", overwrite=overwrite, create=create_folder)
            except FileExistsError:
                continue
        raise _exists(target / f"{stem}-v{_MAX_VERSIONS}{extension}")
    final = target.with_name(_named_for(target.name, extension))
    return _write(data, final, overwrite=overwrite, create=create_folder)


def _write(data: bytes, target: Path, *, overwrite: bool, create: bool = True) -> Path:
    if create:
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
    """Open a file with the platform's default application (``click.launch``: ``os.startfile``, ``open``
    or ``xdg-open``), by its absolute path.

    Raises:
        OAIImagesError: No display, or nothing that can open the file.
    """  # noqa: D205 - the summary names the openers and needs two lines
    import click  # noqa: PLC0415 - only showing needs it, and it would add to every `import oai_images`

    path = path.resolve()  # a viewer started elsewhere, and a file URI, need the absolute path
    problem = display_problem()
    if problem:
        raise OAIImagesError(f"{problem}; the image is saved at {path}")
    try:
        status = click.launch(str(path))
    except OSError as exc:
        raise OAIImagesError(f"could not open a viewer ({exc}); the image is saved at {path}") from exc
    if status != 0:
        raise OAIImagesError(f"found no viewer to show the image; it is saved at {path}")


def display_problem() -> str:
    """Why the default viewer cannot show anything here, or ``""`` when it may.

    On Linux and the other Unix systems a viewer needs a graphical session: ``DISPLAY`` (X11) or
    ``WAYLAND_DISPLAY``. An SSH session, a container or a CI runner has neither. Windows and macOS are
    assumed to have a display.
    """
    if sys.platform in ("win32", "darwin"):
        return ""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return ""
    return "cannot show the image: there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"


#: Held while a run uses an output folder: two runs into one folder would send the same lines twice.
LOCK_NAME = ".oai-images.lock"


def lock_folder(folder: Path) -> IO[bytes]:
    """Lock ``folder`` for this process, without waiting: one run (live or Batch API) per output folder.

    The lock is ``folder/.oai-images.lock``, held until the returned file is closed; the operating system
    releases it when the process ends, however it ends.

    Raises:
        OAIImagesError: Another run holds the lock.
    """
    path = folder / LOCK_NAME
    file = path.open("a+b")
    try:
        if sys.platform == "win32":
            import msvcrt  # noqa: PLC0415 - the Windows way to lock a file

            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl  # noqa: PLC0415 - the POSIX way to lock a file

            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        file.close()
        message = f"another oai-images run is using {path.parent}; let it finish (or stop it) first"
        raise OAIImagesError(message) from None
    return file


def rescue_folders() -> Iterator[Callable[[], tuple[Path, bool]]]:
    """Where a paid image goes when its folder fails, in order, each made only when tried: (folder, whether
    it is new). A private new temporary folder, the user cache folder's ``rescued``, the working folder."""  # noqa: D205, D209

    def private() -> tuple[Path, bool]:
        # A private new folder (mkdtemp), so no other user of the machine can pre-empt it.
        return Path(tempfile.mkdtemp(prefix="oai-images-rescue-")), True

    def existing(folder: Path) -> tuple[Path, bool]:
        return folder, not folder.exists()

    import platformdirs  # noqa: PLC0415 -- only on this rare path

    yield private
    yield lambda: existing(Path(platformdirs.user_cache_dir("oai-images")) / "rescued")
    yield lambda: existing(Path.cwd())
