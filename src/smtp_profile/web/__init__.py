"""The management web page: sign-in, the profile form, the test e-mail and the history.

``mount.install_web`` adds it to the API application. Kept free of imports so that
``api.guards`` can import :mod:`smtp_profile.web.sessions` without a cycle.
"""
