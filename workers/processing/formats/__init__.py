"""Format families read by native libraries, one module each; every extractor runs in the
sandbox's child process (workers/processing/sandbox.py), registered in native.EXTRACTORS."""
