"""Tests of wasmplug.serve (functions as a service and its playground)."""
