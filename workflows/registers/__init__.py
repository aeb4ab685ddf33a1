"""Register books printed (or archived) in the background, one short workflow per print."""
