"""What tests share that is not a fixture: servers, browsers, images, clients.

Test modules import from here and from nowhere else in ``tests``; fixtures
live in each folder's ``conftest.py``.
"""
