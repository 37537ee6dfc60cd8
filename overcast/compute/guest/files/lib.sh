# overcast-guest: shell helpers the init scripts share.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

# A line for the serial console (the console log) and the screen.
say() {
    echo "$*" > /dev/console
    [ -c /dev/tty1 ] && echo "$*" > /dev/tty1 2> /dev/null
    return 0
}

# A top-level string field of a JSON document: json_get FIELD FILE
json_get() {
    tr -d '\n' < "$2" | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"
}

# The values of the "public_keys" object of OpenStack's meta_data.json, one key a line.
json_public_keys() {
    tr -d '\n' < "$1" | awk '{
        i = index($0, "\"public_keys\""); if (!i) exit
        s = substr($0, i + 13); s = substr(s, index(s, "{") + 1); s = substr(s, 1, index(s, "}") - 1)
        while (match(s, /"[^"]*" *: *"([^"\\]|\\.)*"/)) {
            kv = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
            sub(/^"[^"]*" *: *"/, "", kv); sub(/"$/, "", kv)
            gsub(/\\n/, "\n", kv); gsub(/\\\//, "/", kv)
            print kv
        }
    }' | grep -v '^$'
}
