"""The storage errors: one small hierarchy, `transient` marking what a retry may mend."""

from __future__ import annotations

from typing import ClassVar


class StorageError(Exception):
    """A failure of the object store. `transient` ones may succeed when retried."""

    transient: ClassVar[bool] = False


class ObjectNotFound(StorageError):
    pass


class BucketNotFound(StorageError):
    pass


class UploadNotFound(StorageError):
    """The multipart upload does not exist (never created, completed or aborted)."""


class InvalidPart(StorageError):
    """A part list given to `complete_multipart` does not match the uploaded parts."""


class InvalidRange(StorageError):
    pass


class SizeMismatch(StorageError):
    """The data did not have the size the caller announced; nothing was stored."""


class ObjectLocked(StorageError):
    """The store refused to delete or overwrite a locked (write-once) object version."""


class ObjectExists(ObjectLocked):
    """A write-once (raw) object is there already with other bytes: the store refuses to
    replace it. Putting the same bytes again (a retried job) is not an error."""


class KeyConflict(StorageError):
    """Local store only: a key is both an object and a prefix of another (`a` and `a/b`)."""


class UnsupportedOperation(StorageError):
    pass


class StoreUnavailable(StorageError):
    """The store cannot be reached or failed on its side (timeouts, 5xx): retry later."""

    transient: ClassVar[bool] = True


class StorageFull(StorageError):
    """The store's file system (or the account's quota) has no room: nothing of the write
    was kept. Transient: the same write succeeds once an operator frees space."""

    transient: ClassVar[bool] = True
