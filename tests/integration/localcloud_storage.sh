#!/bin/sh
# Cloud Storage JSON API of localcloud, through real HTTP on 127.0.0.1:
# uploads, downloads, checksums, preconditions (including two concurrent
# create-only uploads), listing with pages and delimiters, deletes, name
# checks, and objects surviving a restart.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 59

LC_BIN=$B/localcloud/localcloud
PORT=$(free_port)
U=http://127.0.0.1:$PORT
DATA=$T_DIR/data
LC_PID=

# Starts localcloud on $PORT with $DATA and waits until it serves.
start_localcloud()
{
	"$LC_BIN" --port "$PORT" --data-dir "$DATA" --plain-http \
	    --log-format text >>"$T_DIR/localcloud.log" 2>&1 &
	LC_PID=$!
	t_track "$LC_PID"
	wait_for 10 curl -sf "$U/oauth2/v3/certs"
}

# Stops localcloud with SIGTERM; returns its exit status.
stop_localcloud()
{
	kill -TERM "$LC_PID"
	wait "$LC_PID"
}

# json FILE EXPR: prints a value of the JSON document in FILE, where EXPR
# is a Python expression over the document "d".
json()
{
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1" "$2"
}

# upload NAME_ENCODED FILE [QUERY]: media upload; prints the status and
# leaves the response in $T_DIR/resp.
upload()
{
	curl -s -o "$T_DIR/resp" -w '%{http_code}' -X POST \
	    -H 'Content-Type: text/plain' --data-binary "@$2" \
	    "$U/upload/storage/v1/b/bkt/o?uploadType=media&name=$1${3:+&$3}"
}

if ! start_localcloud; then
	fail "localcloud starts"
	exit 1
fi
ok "localcloud starts"

# Upload and the Object resource. CRC32C of "123456789" is e3069283.
printf '123456789' >"$T_DIR/nine"
check "upload returns 200" test "$(upload 'a%2Fnine.txt' "$T_DIR/nine")" = 200
check "kind is storage#object" test "$(json "$T_DIR/resp" 'd["kind"]')" = \
    storage#object
check "name is decoded" test "$(json "$T_DIR/resp" 'd["name"]')" = a/nine.txt
check "size is the string 9" test "$(json "$T_DIR/resp" \
    'repr(d["size"])')" = "'9'"
check "metageneration is 1" test "$(json "$T_DIR/resp" \
    'd["metageneration"]')" = 1
check "crc32c is big-endian Castagnoli" test "$(json "$T_DIR/resp" \
    'd["crc32c"]')" = 4waSgw==
md5=$(python3 -c 'import base64, hashlib
print(base64.b64encode(hashlib.md5(b"123456789").digest()).decode())')
check "md5Hash is base64 MD5" test "$(json "$T_DIR/resp" 'd["md5Hash"]')" = \
    "$md5"
gen1=$(json "$T_DIR/resp" 'd["generation"]')
check "generation is a decimal string" python3 -c \
    'import sys; assert sys.argv[1].isdigit()' "$gen1"
check "id is bucket/name/generation" test "$(json "$T_DIR/resp" 'd["id"]')" = \
    "bkt/a/nine.txt/$gen1"
check "mediaLink encodes the slash" test "$(json "$T_DIR/resp" \
    'd["mediaLink"]')" = \
    "$U/download/storage/v1/b/bkt/o/a%2Fnine.txt?generation=$gen1&alt=media"

# Download round trip of binary data, on both download paths.
head -c 300000 /dev/urandom >"$T_DIR/blob"
upload blob "$T_DIR/blob" >/dev/null
curl -s -o "$T_DIR/blob.out" "$U/storage/v1/b/bkt/o/blob?alt=media"
check "download returns the uploaded bytes" cmp -s "$T_DIR/blob" \
    "$T_DIR/blob.out"
curl -s -o "$T_DIR/blob.out2" "$U/download/storage/v1/b/bkt/o/blob?alt=media"
check "download path returns the same bytes" cmp -s "$T_DIR/blob" \
    "$T_DIR/blob.out2"
check "metadata of a missing object is 404" test "$(http_status \
    "$U/storage/v1/b/bkt/o/missing")" = 404
check "a missing bucket is 404" test "$(http_status \
    "$U/storage/v1/b/nobucket/o/x")" = 404

# Preconditions on upload.
check "create-only over an existing object is 412" test "$(upload \
    'a%2Fnine.txt' "$T_DIR/nine" ifGenerationMatch=0)" = 412
check "412 uses the GCS error envelope" test "$(json "$T_DIR/resp" \
    'd["error"]["errors"][0]["reason"]')" = conditionNotMet
check "replace with a stale generation is 412" test "$(upload \
    'a%2Fnine.txt' "$T_DIR/nine" ifGenerationMatch=1)" = 412
check "replace with the live generation is 200" test "$(upload \
    'a%2Fnine.txt' "$T_DIR/nine" "ifGenerationMatch=$gen1")" = 200
gen2=$(json "$T_DIR/resp" 'd["generation"]')
check "replace makes a greater generation" test "$gen2" -gt "$gen1"
check "ifGenerationNotMatch on the live generation is 412" test "$(upload \
    'a%2Fnine.txt' "$T_DIR/nine" "ifGenerationNotMatch=$gen2")" = 412

# Two concurrent create-only uploads of the same object, five times: one
# must win and one must get 412. Large bodies keep both in flight.
head -c 4000000 /dev/urandom >"$T_DIR/big1"
head -c 4000000 /dev/urandom >"$T_DIR/big2"
race_ok=0
race_content_ok=0
for i in 1 2 3 4 5; do
	pids=""
	for j in 1 2; do
		curl -s -o "$T_DIR/race$j" -w '%{http_code}' -X POST \
		    --data-binary "@$T_DIR/big$j" \
		    "$U/upload/storage/v1/b/bkt/o?uploadType=media&name=race$i&ifGenerationMatch=0" \
		    >"$T_DIR/race$j.code" &
		pids="$pids $!"
	done
	for pid in $pids; do
		wait "$pid"
	done
	codes=$(printf '%s\n%s\n' "$(cat "$T_DIR/race1.code")" \
	    "$(cat "$T_DIR/race2.code")" | sort | tr '\n' ' ')
	if [ "$codes" = "200 412 " ]; then
		race_ok=$((race_ok + 1))
	else
		echo "# race $i: statuses $codes"
	fi
	winner=1
	[ "$(cat "$T_DIR/race2.code")" = 200 ] && winner=2
	curl -s -o "$T_DIR/race.out" "$U/storage/v1/b/bkt/o/race$i?alt=media"
	cmp -s "$T_DIR/race.out" "$T_DIR/big$winner" &&
	    race_content_ok=$((race_content_ok + 1))
done
check "concurrent create-only: one 200 and one 412 each time" \
    test "$race_ok" = 5
check "concurrent create-only: the stored bytes are the winner's" \
    test "$race_content_ok" = 5

# Multipart upload with metadata, then a metadata patch.
boundary=sep123
printf -- '--%s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{"name":"multi.json","contentType":"application/json","metadata":{"run":"r1"}}\r\n--%s\r\nContent-Type: application/json\r\n\r\n{"a":1}\r\n--%s--\r\n' \
    $boundary $boundary $boundary >"$T_DIR/multipart"
code=$(curl -s -o "$T_DIR/resp" -w '%{http_code}' -X POST \
    -H "Content-Type: multipart/related; boundary=$boundary" \
    --data-binary "@$T_DIR/multipart" \
    "$U/upload/storage/v1/b/bkt/o?uploadType=multipart")
check "multipart upload returns 200" test "$code" = 200
check "multipart keeps the metadata" test "$(json "$T_DIR/resp" \
    'd["metadata"]["run"]')" = r1
check "multipart stores the media part" test "$(curl -s \
    "$U/storage/v1/b/bkt/o/multi.json?alt=media")" = '{"a":1}'
code=$(curl -s -o "$T_DIR/resp" -w '%{http_code}' -X PATCH \
    -d '{"metadata":{"run":null,"phase":"done"}}' \
    "$U/storage/v1/b/bkt/o/multi.json?ifMetagenerationMatch=1")
check "patch bumps the metageneration" test "$code/$(json "$T_DIR/resp" \
    'd["metageneration"]')/$(json "$T_DIR/resp" 'd["metadata"]')" = \
    '200/2/{"phase": "done"}'
check "patch with a stale metageneration is 412" test "$(curl -s -o \
    /dev/null -w '%{http_code}' -X PATCH -d '{}' \
    "$U/storage/v1/b/bkt/o/multi.json?ifMetagenerationMatch=1")" = 412

# Custom metadata is limited to 8 KiB in all, 4 KiB per value: larger
# maps get 400 and the object keeps what it had.
big=$(python3 -c 'print("v" * 4000)')
meta_of()
{
	python3 -c 'import json, sys
print(json.dumps({"metadata": {"k%d" % i: sys.argv[2]
    for i in range(int(sys.argv[1]))}}))' "$1" "$2"
}
check "metadata of 8 KiB is accepted" test "$(curl -s -o /dev/null \
    -w '%{http_code}' -X PATCH -d "$(meta_of 2 "$big")" \
    "$U/storage/v1/b/bkt/o/multi.json")" = 200
code=$(curl -s -o "$T_DIR/resp" -w '%{http_code}' -X PATCH \
    -d "$(meta_of 3 "$big")" "$U/storage/v1/b/bkt/o/multi.json")
check "metadata over 8 KiB is 400" test "$code" = 400
check "the 400 names the limit" grep -q 8192 "$T_DIR/resp"
check "a value over 4 KiB is 400" test "$(curl -s -o /dev/null \
    -w '%{http_code}' -X PATCH -d "$(meta_of 1 "${big}${big}")" \
    "$U/storage/v1/b/bkt/o/multi.json")" = 400
check "a rejected patch keeps the metadata" test "$(curl -s \
    "$U/storage/v1/b/bkt/o/multi.json" | python3 -c 'import json, sys
print(len(json.load(sys.stdin)["metadata"]))')" = 3
printf -- '--%s\r\nContent-Type: application/json\r\n\r\n{"name":"big.json",%s\r\n--%s\r\nContent-Type: text/plain\r\n\r\nx\r\n--%s--\r\n' \
    $boundary "$(meta_of 3 "$big" | cut -c2-)" $boundary $boundary \
    >"$T_DIR/multipart-big"
check "multipart with metadata over 8 KiB is 400" test "$(curl -s -o \
    /dev/null -w '%{http_code}' -X POST \
    -H "Content-Type: multipart/related; boundary=$boundary" \
    --data-binary "@$T_DIR/multipart-big" \
    "$U/upload/storage/v1/b/bkt/o?uploadType=multipart")" = 400
check "the rejected upload stored nothing" test "$(curl -s -o /dev/null \
    -w '%{http_code}' "$U/storage/v1/b/bkt/o/big.json")" = 404

# Request headers are limited to 64 KiB.
big_header=$(python3 -c 'print("a" * 100000)')
check "headers over 64 KiB are 400" test "$(curl -s -o /dev/null \
    -w '%{http_code}' -H "X-Big: $big_header" "$U/storage/v1/b")" = 400
check "localcloud serves after them" test "$(curl -s -o /dev/null \
    -w '%{http_code}' "$U/storage/v1/b")" = 200

# Listing: pages of three over seven objects under p/.
for n in 1 2 3 4 5 6 7; do
	upload "p%2F$n" "$T_DIR/nine" >/dev/null
done
names=""
token=""
pages=0
while [ $pages -lt 10 ]; do
	curl -s -o "$T_DIR/list" \
	    "$U/storage/v1/b/bkt/o?prefix=p/&maxResults=3${token:+&pageToken=$token}"
	names="$names$(json "$T_DIR/list" \
	    '" ".join(i["name"] for i in d.get("items", []))') "
	pages=$((pages + 1))
	token=$(json "$T_DIR/list" 'd.get("nextPageToken", "")')
	[ -n "$token" ] || break
done
check "pagination returns every object once, in order" test "$names" = \
    "p/1 p/2 p/3 p/4 p/5 p/6 p/7 "
check "pagination takes three pages" test "$pages" = 3

# Delimiter: objects fold into prefixes, which count towards maxResults.
for n in d%2Fa d%2Fb%2F1 d%2Fb%2F2 d%2Fc%2F1 e; do
	upload "$n" "$T_DIR/nine" >/dev/null
done
curl -s -o "$T_DIR/list" "$U/storage/v1/b/bkt/o?prefix=d/&delimiter=/"
check "delimiter lists direct objects" test "$(json "$T_DIR/list" \
    '[i["name"] for i in d["items"]]')" = '["d/a"]'
check "delimiter lists prefixes" test "$(json "$T_DIR/list" \
    'd["prefixes"]')" = '["d/b/", "d/c/"]'
seen=""
token=""
pages=0
while [ $pages -lt 10 ]; do
	curl -s -o "$T_DIR/list" \
	    "$U/storage/v1/b/bkt/o?prefix=d/&delimiter=/&maxResults=1${token:+&pageToken=$token}"
	seen="$seen$(json "$T_DIR/list" \
	    '" ".join([i["name"] for i in d.get("items", [])] + d.get("prefixes", []))') "
	pages=$((pages + 1))
	token=$(json "$T_DIR/list" 'd.get("nextPageToken", "")')
	[ -n "$token" ] || break
done
check "delimiter pages step over whole prefixes" test "$seen" = \
    "d/a d/b/ d/c/ "
check "an invalid pageToken is 400" test "$(http_status \
    "$U/storage/v1/b/bkt/o?pageToken=%21%21")" = 400

# Delete with preconditions.
gen=$(curl -s "$U/storage/v1/b/bkt/o/e" | python3 -c \
    'import json, sys; print(json.load(sys.stdin)["generation"])')
check "delete with a wrong generation is 412" test "$(curl -s -o /dev/null \
    -w '%{http_code}' -X DELETE \
    "$U/storage/v1/b/bkt/o/e?ifGenerationMatch=$((gen - 1))")" = 412
check "the object survives a failed delete" test "$(http_status \
    "$U/storage/v1/b/bkt/o/e")" = 200
code=$(curl -s -o "$T_DIR/del" -w '%{http_code}' -X DELETE \
    "$U/storage/v1/b/bkt/o/e?ifGenerationMatch=$gen&ifMetagenerationMatch=1")
check "delete with matching preconditions is 204, empty" test \
    "$code/$(wc -c <"$T_DIR/del")" = "204/0"
check "a deleted object is 404" test "$(http_status \
    "$U/storage/v1/b/bkt/o/e")" = 404
check "create-only works again after delete" test "$(upload e \
    "$T_DIR/nine" ifGenerationMatch=0)" = 200

# Invalid object names: each upload must be rejected with 400.
long=$(python3 -c 'print("x" * 1025)')
bad=0
for n in '..' 'a%2F..%2Fb' '..%2F..%2Fescape' 'a%2F.%2Fb' '.' "$long" \
    'bad%FF' 'over%C0%AF' 'surrogate%ED%A0%80' 'nul%00x' 'cr%0Dx'; do
	code=$(upload "$n" "$T_DIR/nine")
	if [ "$code" != 400 ]; then
		echo "# name $(printf '%.40s' "$n") got $code"
		bad=$((bad + 1))
	fi
done
check "invalid object names are rejected with 400" test "$bad" = 0
check "a 1024-byte name is accepted" test "$(upload \
    "$(python3 -c 'print("y" * 1024)')" "$T_DIR/nine")" = 200
# Every stored file is a bucket record or a hex-named object file.
check "object files have hex names only" test -z "$(find "$DATA/storage" \
    -type f | grep -v -E \
    '/storage/bkt/(bucket\.json|o/[0-9a-f]{64}\.(json|[0-9]+\.data))$')"
check "an invalid bucket name is 400" test "$(http_status \
    "$U/storage/v1/b/Bad_Bucket/o")" = 400

# Restart: objects, generations and bytes are kept.
list_before=$(curl -s "$U/storage/v1/b/bkt/o" | python3 -c 'import json, sys
print(" ".join(i["name"] + "@" + i["generation"] for i in json.load(sys.stdin)["items"]))')
check "localcloud exits 0 on SIGTERM" stop_localcloud
# Leftovers of an interrupted write: a temporary file and a data file that
# no record names. The next start removes both.
odir=$DATA/storage/bkt/o
: >"$odir/.tmp.leftover.XXXXXX"
hash=$(printf 'blob' | sha256sum | cut -d' ' -f1)
: >"$odir/$hash.1.data"
if ! start_localcloud; then
	fail "localcloud restarts"
	exit 1
fi
ok "localcloud restarts"
list_after=$(curl -s "$U/storage/v1/b/bkt/o" | python3 -c 'import json, sys
print(" ".join(i["name"] + "@" + i["generation"] for i in json.load(sys.stdin)["items"]))')
check "restart keeps names and generations" test "$list_before" = \
    "$list_after"
curl -s -o "$T_DIR/blob.out3" "$U/storage/v1/b/bkt/o/blob?alt=media"
check "restart keeps the bytes" cmp -s "$T_DIR/blob" "$T_DIR/blob.out3"
check "restart keeps preconditions working" test "$(upload blob \
    "$T_DIR/nine" ifGenerationMatch=0)" = 412
check "restart removes leftover files" test ! -e "$odir/.tmp.leftover.XXXXXX" \
    -a ! -e "$odir/$hash.1.data"

# Under ASan a leak or error makes the exit status non-zero.
check "localcloud exits 0 after the restart" stop_localcloud

[ "$T_FAILED" -eq 0 ]
