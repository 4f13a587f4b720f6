"""The last step of the bulk-loading commands (``simulate``, ``import_events``): derive what they stored."""

from __future__ import annotations

from tqdm import tqdm

from events.services import events_derive_queued


def derive_stored(write) -> float:
    """Derive what the command's batches queued (``events_derive_queued``) with a progress bar; write
    how long it took. Returns the seconds."""
    with tqdm(total=0, desc="derive", unit="ev", unit_scale=True, disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total, bar.n = total, done
            bar.refresh()

        seconds, events = events_derive_queued(progress=progress)
    write(f"Sessions, carts, orders and funnel derived in {seconds:.1f} s ({events:,} queued events: this "
          f"command's, and any a worker had not derived yet).")
    return seconds
