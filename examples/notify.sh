#!/bin/sh
# leadshare notification hook: gets one JSON notification on stdin and appends it,
# as one line, to $LEADSHARE_NOTIFY_LOG (default: notifications.log).
# The bridge to our WhatsApp/SMS gateway would go here (e.g. curl the JSON to it);
# for now we only keep the log. A non-zero exit marks the delivery as failed.
set -eu
log="${LEADSHARE_NOTIFY_LOG:-notifications.log}"
line=$(tr -d '\r\n')
[ -n "$line" ] || { echo "notify.sh: empty notification on stdin" >&2; exit 1; }
printf '%s\n' "$line" >> "$log"
