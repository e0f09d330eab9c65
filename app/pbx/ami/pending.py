"""An action on its way: the waiting caller's handle on a response (and a list's events)."""

from __future__ import annotations

import logging
import threading

from app.pbx.errors import AmiTimeoutError

log = logging.getLogger(__name__)


class PendingAction:
    """A sent action waiting for its response (and, for list actions, its events)."""

    __slots__ = ("action", "action_id", "response", "events", "error", "_done", "_event",
                 "_callbacks", "_client")

    def __init__(self, client, action, action_id):
        self._client = client
        self.action, self.action_id = action, action_id
        self.response = None
        self.events = None
        self.error = None
        self._done = False
        self._event = None  # made only when someone waits: most results are ready first
        self._callbacks = None

    def _finish(self, response=None, error=None):
        with self._client._lock:
            if self._done:
                return
            self.response, self.error = response, error
            self._done = True
            event, callbacks = self._event, self._callbacks
        if event is not None:
            event.set()
        for cb in callbacks or ():
            try:
                cb(self)
            except Exception:
                log.exception("AMI callback failed action=%s id=%s", self.action, self.action_id)

    def add_done_callback(self, cb):
        """Call ``cb(self)`` when done (at once if already done); runs on the reader thread."""
        with self._client._lock:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(cb)
                return
        cb(self)

    def done(self):
        return self._done

    def result(self, timeout=None):
        """The response ``Message`` (list actions: with ``.events`` filled).

        Raises:
            AmiTimeoutError: nothing within ``timeout`` seconds (the action is forgotten).
            AmiActionError: Asterisk answered ``Response: Error``.
            AmiConnectionError: the connection dropped before the answer.
        """
        if timeout is None:
            timeout = self._client.timeout
        if not self._done:
            with self._client._lock:
                if not self._done and self._event is None:
                    self._event = threading.Event()
                event = self._event
            if event is not None and not event.wait(timeout):
                self._client._forget(self.action_id)
                raise AmiTimeoutError(
                    f"AMI {self.action} (ActionID {self.action_id}) got no response in "
                    f"{timeout:.3g}s"
                )
        if self.error is not None:
            raise self.error
        return self.response
