"""The Qt user interface of Client-Server Lab: widgets, models and the bridge.

No protocol logic lives here; the engine in ``lab`` does the work.
"""
