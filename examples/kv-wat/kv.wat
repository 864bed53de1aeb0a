;; A key-value store process for procworker's wasm@1.0 device, in plain WebAssembly text.
;;
;; Messages carry tags: Action (Set | Get | Delete), Key, and for Set a Value.
;;   Set    -> tags Status=stored,  Keys=<number of keys>
;;   Get    -> tags Status=found, Value=<value>   or   Status=missing
;;   Delete -> tags Status=deleted | missing, Keys=<number of keys>
;;   anything else -> {"error": ...}, which fails the slot (the state stays as it was)
;; The spawn message (slot 0, pw_init) answers Status=ready, Keys=0.
;;
;; How it reads its input: the host's JSON has no spaces and a fixed key order, so after
;; the first `"tags":{` come `"name":"value"` pairs up to `}`. Keys and values are kept in
;; their JSON-escaped form: the host escapes every string the same way, so equal strings
;; have equal escaped bytes, and an escaped value can be written back between quotes as is.
;;
;; State: everything lives in linear memory, reached from three mutable globals that are NOT
;; exported ($heap, $head, $count). The host snapshots them anyway (it rewrites the module
;; at load time to reach every mutable global), so export/import keeps the whole store.
;;
;; Memory map: constants below 1024; from 1024 up, a bump heap of entries and their bytes
;; (never freed: Delete unlinks an entry but keeps its bytes — an example, not a database).
;; pw_alloc(len) hands out the region at $heap + len, so the bytes Set copies to $heap
;; (always fewer than len) never overwrite the input still being read; the output is
;; written just after the input.
(module
  (memory (export "memory") 1)

  (global $heap (mut i32) (i32.const 1024)) ;; first free byte
  (global $head (mut i32) (i32.const 0))    ;; newest entry, 0 = none
  (global $count (mut i32) (i32.const 0))   ;; number of keys

  ;; Constants: (address, length) pairs are written where they are used.
  (data (i32.const 16) "\"tags\":{")                                           ;; 16 +8
  (data (i32.const 24) "Action")                                               ;; 24 +6
  (data (i32.const 32) "Key")                                                  ;; 32 +3
  (data (i32.const 40) "Value")                                                ;; 40 +5
  (data (i32.const 48) "Set")                                                  ;; 48 +3
  (data (i32.const 56) "Get")                                                  ;; 56 +3
  (data (i32.const 64) "Delete")                                               ;; 64 +6
  (data (i32.const 72) "stored")                                               ;; 72 +6
  (data (i32.const 80) "deleted")                                              ;; 80 +7
  (data (i32.const 88) "missing")                                              ;; 88 +7
  (data (i32.const 96) "{\"tags\":{\"Status\":\"ready\",\"Keys\":\"0\"}}")     ;; 96 +38
  (data (i32.const 136) "{\"tags\":{\"Status\":\"missing\"}}")                 ;; 136 +29
  (data (i32.const 168) "{\"tags\":{\"Status\":\"found\",\"Value\":\"")        ;; 168 +35
  (data (i32.const 208) "{\"tags\":{\"Keys\":\"")                              ;; 208 +17
  (data (i32.const 232) "\",\"Status\":\"")                                    ;; 232 +12
  (data (i32.const 248) "\"}}")                                                ;; 248 +3
  (data (i32.const 256) "{\"error\":\"input has no tags object\"}")            ;; 256 +36
  (data (i32.const 296) "{\"error\":\"missing Action tag\"}")                  ;; 296 +30
  (data (i32.const 328) "{\"error\":\"missing Key tag\"}")                     ;; 328 +27
  (data (i32.const 360) "{\"error\":\"Set needs a Value tag\"}")               ;; 360 +33
  (data (i32.const 400) "{\"error\":\"unknown Action; use Set, Get or Delete\"}") ;; 400 +50

  ;; Grows memory so that [0, end) is inside it; traps if the memory limit is reached
  ;; (memory.grow returns -1), which fails the slot and rolls the state back.
  (func $ensure (param $end i32)
    (local $have i32)
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow
                (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
                           (i32.const 16)))
              (i32.const -1))
          (then unreachable)))))

  ;; 1 if the byte strings [a, a+alen) and [b, b+blen) are equal.
  (func $eq (param $a i32) (param $alen i32) (param $b i32) (param $blen i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $alen) (local.get $blen)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $alen)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; Address of the first [pat, pat+n) in [p, end), or -1.
  (func $find (param $p i32) (param $end i32) (param $pat i32) (param $n i32) (result i32)
    (block $none
      (loop $next
        (br_if $none (i32.gt_u (i32.add (local.get $p) (local.get $n)) (local.get $end)))
        (if (call $eq (local.get $p) (local.get $n) (local.get $pat) (local.get $n))
          (then (return (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (i32.const -1))

  ;; $p is just after an opening quote: the address of the closing quote, or -1.
  (func $string_end (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (block $bad
      (loop $next
        (br_if $bad (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.eq (local.get $c) (i32.const 34)) (then (return (local.get $p)))) ;; '"'
        ;; a backslash escapes the next byte
        (local.set $p (i32.add (local.get $p)
                               (select (i32.const 2) (i32.const 1) (i32.eq (local.get $c) (i32.const 92)))))
        (br $next)))
    (i32.const -1))

  ;; The entry whose key is [k, k+klen), or 0. Entry: next, key ptr, key len, value ptr, value len.
  (func $lookup (param $k i32) (param $klen i32) (result i32)
    (local $e i32)
    (local.set $e (global.get $head))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $e)))
        (if (call $eq (i32.load offset=4 (local.get $e)) (i32.load offset=8 (local.get $e))
                      (local.get $k) (local.get $klen))
          (then (return (local.get $e))))
        (local.set $e (i32.load (local.get $e)))
        (br $next)))
    (i32.const 0))

  ;; Removes entry $e from the list.
  (func $unlink (param $e i32)
    (local $prev i32)
    (if (i32.eq (global.get $head) (local.get $e))
      (then (global.set $head (i32.load (local.get $e))) (return)))
    (local.set $prev (global.get $head))
    (loop $next
      (if (i32.eq (i32.load (local.get $prev)) (local.get $e))
        (then (i32.store (local.get $prev) (i32.load (local.get $e))) (return)))
      (local.set $prev (i32.load (local.get $prev)))
      (br $next)))

  ;; Copies n bytes onto the heap; returns their address there.
  (func $keep (param $src i32) (param $n i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (call $ensure (i32.add (local.get $at) (local.get $n)))
    (memory.copy (local.get $at) (local.get $src) (local.get $n))
    (global.set $heap (i32.add (local.get $at) (local.get $n)))
    (local.get $at))

  ;; A new 20-byte entry on the heap, 4-byte aligned.
  (func $new_entry (result i32)
    (local $at i32)
    (local.set $at (i32.and (i32.add (global.get $heap) (i32.const 3)) (i32.const -4)))
    (call $ensure (i32.add (local.get $at) (i32.const 20)))
    (global.set $heap (i32.add (local.get $at) (i32.const 20)))
    (local.get $at))

  ;; Copies n bytes from src to dst; returns dst + n.
  (func $put (param $dst i32) (param $src i32) (param $n i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $n))
    (i32.add (local.get $dst) (local.get $n)))

  ;; Writes v in decimal at dst; returns the end.
  (func $put_u32 (param $dst i32) (param $v i32) (result i32)
    (local $len i32) (local $t i32) (local $i i32)
    (local.set $len (i32.const 1))
    (local.set $t (local.get $v))
    (block $counted
      (loop $more
        (br_if $counted (i32.lt_u (local.get $t) (i32.const 10)))
        (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $more)))
    (local.set $i (local.get $len))
    (local.set $t (local.get $v))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $dst) (local.get $i))
                  (i32.add (i32.const 48) (i32.rem_u (local.get $t) (i32.const 10))))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (br_if $digit (local.get $i)))
    (i32.add (local.get $dst) (local.get $len)))

  ;; The ABI's result: (pointer << 32) | length of the output [start, end).
  (func $output (param $start i32) (param $end i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $start)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $end) (local.get $start)))))

  ;; {"tags":{"Keys":"<count>","Status":"<word>"}} written at out.
  (func $keys_status (param $out i32) (param $word i32) (param $wlen i32) (result i64)
    (local $o i32)
    (call $ensure (i32.add (local.get $out) (i32.const 64)))
    (local.set $o (call $put (local.get $out) (i32.const 208) (i32.const 17)))
    (local.set $o (call $put_u32 (local.get $o) (global.get $count)))
    (local.set $o (call $put (local.get $o) (i32.const 232) (i32.const 12)))
    (local.set $o (call $put (local.get $o) (local.get $word) (local.get $wlen)))
    (local.set $o (call $put (local.get $o) (i32.const 248) (i32.const 3)))
    (call $output (local.get $out) (local.get $o)))

  ;; Where the host writes the next input (see the memory map above).
  (func (export "pw_alloc") (param $len i32) (result i32)
    (call $ensure (i32.add (global.get $heap) (i32.shl (local.get $len) (i32.const 1))))
    (i32.add (global.get $heap) (local.get $len)))

  ;; Slot 0: the spawn message. The store starts empty.
  (func (export "pw_init") (param $ptr i32) (param $len i32) (result i64)
    (call $output (i32.const 96) (i32.const 134)))

  (func (export "pw_handle") (param $ptr i32) (param $len i32) (result i64)
    (local $end i32) (local $p i32) (local $q i32)
    (local $name i32) (local $nlen i32) (local $val i32) (local $vlen i32)
    (local $act i32) (local $alen i32) (local $key i32) (local $klen i32)
    (local $value i32) (local $valuelen i32)
    (local $e i32) (local $out i32) (local $o i32)
    (local.set $act (i32.const -1))
    (local.set $key (i32.const -1))
    (local.set $value (i32.const -1))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))

    ;; Find the tags object and read its "name":"value" pairs.
    (local.set $p (call $find (local.get $ptr) (local.get $end) (i32.const 16) (i32.const 8)))
    (if (i32.lt_s (local.get $p) (i32.const 0))
      (then (return (call $output (i32.const 256) (i32.const 292)))))
    (local.set $p (i32.add (local.get $p) (i32.const 8)))
    (block $tags_done
      (loop $pair
        (br_if $tags_done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $tags_done (i32.eq (i32.load8_u (local.get $p)) (i32.const 125))) ;; '}'
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 44))                 ;; ','
          (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
        (local.set $name (i32.add (local.get $p) (i32.const 1)))
        (local.set $q (call $string_end (local.get $name) (local.get $end)))
        (if (i32.lt_s (local.get $q) (i32.const 0))
          (then (return (call $output (i32.const 256) (i32.const 292)))))
        (local.set $nlen (i32.sub (local.get $q) (local.get $name)))
        (local.set $val (i32.add (local.get $q) (i32.const 3))) ;; past '":"'
        (local.set $q (call $string_end (local.get $val) (local.get $end)))
        (if (i32.lt_s (local.get $q) (i32.const 0))
          (then (return (call $output (i32.const 256) (i32.const 292)))))
        (local.set $vlen (i32.sub (local.get $q) (local.get $val)))
        (local.set $p (i32.add (local.get $q) (i32.const 1)))
        (if (call $eq (local.get $name) (local.get $nlen) (i32.const 24) (i32.const 6))
          (then (local.set $act (local.get $val)) (local.set $alen (local.get $vlen))))
        (if (call $eq (local.get $name) (local.get $nlen) (i32.const 32) (i32.const 3))
          (then (local.set $key (local.get $val)) (local.set $klen (local.get $vlen))))
        (if (call $eq (local.get $name) (local.get $nlen) (i32.const 40) (i32.const 5))
          (then (local.set $value (local.get $val)) (local.set $valuelen (local.get $vlen))))
        (br $pair)))

    (if (i32.lt_s (local.get $act) (i32.const 0))
      (then (return (call $output (i32.const 296) (i32.const 326)))))
    (if (i32.lt_s (local.get $key) (i32.const 0))
      (then (return (call $output (i32.const 328) (i32.const 355)))))
    (local.set $out (local.get $end))
    (local.set $e (call $lookup (local.get $key) (local.get $klen)))

    ;; Set
    (if (call $eq (local.get $act) (local.get $alen) (i32.const 48) (i32.const 3))
      (then
        (if (i32.lt_s (local.get $value) (i32.const 0))
          (then (return (call $output (i32.const 360) (i32.const 393)))))
        (if (i32.eqz (local.get $e))
          (then
            (local.set $e (call $new_entry))
            (i32.store offset=4 (local.get $e) (call $keep (local.get $key) (local.get $klen)))
            (i32.store offset=8 (local.get $e) (local.get $klen))
            (i32.store (local.get $e) (global.get $head))
            (global.set $head (local.get $e))
            (global.set $count (i32.add (global.get $count) (i32.const 1)))))
        (i32.store offset=12 (local.get $e) (call $keep (local.get $value) (local.get $valuelen)))
        (i32.store offset=16 (local.get $e) (local.get $valuelen))
        (return (call $keys_status (local.get $out) (i32.const 72) (i32.const 6)))))

    ;; Get
    (if (call $eq (local.get $act) (local.get $alen) (i32.const 56) (i32.const 3))
      (then
        (if (i32.eqz (local.get $e))
          (then (return (call $output (i32.const 136) (i32.const 165)))))
        (call $ensure (i32.add (local.get $out) (i32.add (i32.load offset=16 (local.get $e)) (i32.const 64))))
        (local.set $o (call $put (local.get $out) (i32.const 168) (i32.const 35)))
        (local.set $o (call $put (local.get $o) (i32.load offset=12 (local.get $e)) (i32.load offset=16 (local.get $e))))
        (local.set $o (call $put (local.get $o) (i32.const 248) (i32.const 3)))
        (return (call $output (local.get $out) (local.get $o)))))

    ;; Delete
    (if (call $eq (local.get $act) (local.get $alen) (i32.const 64) (i32.const 6))
      (then
        (if (i32.eqz (local.get $e))
          (then (return (call $keys_status (local.get $out) (i32.const 88) (i32.const 7)))))
        (call $unlink (local.get $e))
        (global.set $count (i32.sub (global.get $count) (i32.const 1)))
        (return (call $keys_status (local.get $out) (i32.const 80) (i32.const 7)))))

    (call $output (i32.const 400) (i32.const 450)))
)
