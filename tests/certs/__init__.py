"""Tests of labkit.certs and labkit.nginxconf, including a real mutual-TLS handshake with nginx."""
