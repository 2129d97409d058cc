"""Sending the test e-mail: pure planning, message, transcript and diagnosis, plus
the one module (:mod:`smtp_profile.mail.sender`) that talks SMTP."""
