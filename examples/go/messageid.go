package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sort"
)

// MessageID is the id procworker gives a message, the same in every language: base64url
// without padding of SHA-256 over u32be(tag count), then per tag in ascending byte order of
// the name u32be(len) name u32be(len) value, then u64be(len(data)) data. A process's id is
// the id of its spawn message, so a client can know it before calling Spawn.
func MessageID(tags map[string]string, data []byte) string {
	names := make([]string, 0, len(tags))
	for name := range tags {
		names = append(names, name)
	}
	sort.Strings(names) // Go strings compare by bytes: the UTF-8 order the encoding needs

	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint32(n[:4], uint32(len(tags)))
	h.Write(n[:4])
	for _, name := range names {
		for _, part := range []string{name, tags[name]} {
			binary.BigEndian.PutUint32(n[:4], uint32(len(part)))
			h.Write(n[:4])
			h.Write([]byte(part))
		}
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	h.Write(data)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
