"""Flow control shared by every proxying protocol: reading pauses for as long as any reason holds.

Reasons are bits (the peer's buffer is full, the bandwidth class, a queue...), so one reason ending
does not resume reading another still holds back."""


class ReadPauses:
    """Mixin for an asyncio.Protocol with `transport`, `paused` (int bits) and `closed`."""

    def pause(self, reason: int) -> None:
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason: int) -> None:
        if not self.paused & reason:
            return
        self.paused &= ~reason
        if not self.paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()
