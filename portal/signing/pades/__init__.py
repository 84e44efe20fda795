"""PAdES operations with pyHanko: pure and synchronous, bytes in and bytes out (callers run
them in a worker thread; pyHanko's sync wrappers start their own event loop).

Everything after the freeze is an incremental update: the empty signature fields in one
revision, then one revision per signature (its validation data in the same revision, so the
latest signature always covers the whole file), then the closing document time-stamp. Nothing
is drawn into page content and nothing is rewritten, or earlier signatures would no longer
validate.
"""
