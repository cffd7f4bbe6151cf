# Test programs and scripts. Unit tests are cmocka programs printing TAP.
EXTRA_DIST += tests/lib.sh
