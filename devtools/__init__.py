"""Development tools the app's CLI and the tests share (never imported by the running product)."""
