"""OAuth 2.0 client credentials for RelayAuthenticationType 3: the grant, the token
endpoint request (egress-checked), the token cache, and the SASL encodings."""
