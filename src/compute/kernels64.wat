;; Float64 kernels (f64x2 SIMD) for the spectra, on this module's own memory; every pointer
;; is a byte offset, matrices are row-major. Loaded by kernels64.ts; the callers keep plain
;; JS loops of the same arithmetic for where WebAssembly SIMD is missing.
;;   accumulate, reflect: the two passes over the trailing rows that make up nearly all of
;;     the Householder bidiagonalization in svd.ts (columns c in (j, n), two at a time, then
;;     one if n − j − 1 is odd); the reflectors themselves are computed in JS on views of
;;     the same memory.
;;   project: the inner loop of modified Gram–Schmidt in lyapunov.ts.
;; Assemble with `node scripts/build-kernels64.mjs` (writes kernels64-wasm.ts).
(module
  (memory (export "memory") 1)

  ;; w[c] = Σ_{i = j}^{m−1} v[i] · a[i·n + c]   (w = vᵀ A[j:, j+1:]; rows with v[i] = 0 skipped)
  (func (export "accumulate") (param $a i32) (param $v i32) (param $w i32) (param $j i32) (param $m i32) (param $n i32)
    (local $i i32) (local $c i32) (local $vi f64) (local $vv v128) (local $row i32) (local $wc i32)
    (local.set $c (i32.add (local.get $j) (i32.const 1)))
    (block $zeroed (loop $zero
      (br_if $zeroed (i32.ge_s (local.get $c) (local.get $n)))
      (f64.store (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 3))) (f64.const 0))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $zero)))
    (local.set $i (local.get $j))
    (block $done (loop $rows
      (br_if $done (i32.ge_s (local.get $i) (local.get $m)))
      (local.set $vi (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3)))))
      (if (f64.ne (local.get $vi) (f64.const 0)) (then
        (local.set $vv (f64x2.splat (local.get $vi)))
        (local.set $row (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
        (local.set $c (i32.add (local.get $j) (i32.const 1)))
        (block $last (loop $pairs
          (br_if $last (i32.ge_s (i32.add (local.get $c) (i32.const 1)) (local.get $n)))
          (local.set $wc (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 3))))
          (v128.store (local.get $wc)
            (f64x2.add (v128.load (local.get $wc))
              (f64x2.mul (local.get $vv) (v128.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 3)))))))
          (local.set $c (i32.add (local.get $c) (i32.const 2)))
          (br $pairs)))
        (if (i32.lt_s (local.get $c) (local.get $n)) (then
          (local.set $wc (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 3))))
          (f64.store (local.get $wc)
            (f64.add (f64.load (local.get $wc))
              (f64.mul (local.get $vi) (f64.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 3)))))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rows))))

  ;; Rows i in (j, m), each while it is in cache: a_i −= β v[i] w (the left reflection), then
  ;; z = τ (a_i · u) and a_i −= z u (the right one; u = 0 when there is none).
  (func (export "reflect") (param $a i32) (param $v i32) (param $w i32) (param $u i32) (param $beta f64) (param $tau f64)
    (param $j i32) (param $m i32) (param $n i32)
    (local $i i32) (local $c i32) (local $f f64) (local $fv v128) (local $row i32) (local $p i32)
    (local $x v128) (local $zv v128) (local $z f64) (local $xs f64)
    (local.set $i (i32.add (local.get $j) (i32.const 1)))
    (block $done (loop $rows
      (br_if $done (i32.ge_s (local.get $i) (local.get $m)))
      (local.set $row (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
      (local.set $f (f64.mul (local.get $beta) (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $fv (f64x2.splat (local.get $f)))
      (local.set $zv (v128.const f64x2 0 0))
      (local.set $c (i32.add (local.get $j) (i32.const 1)))
      (block $last (loop $pairs
        (br_if $last (i32.ge_s (i32.add (local.get $c) (i32.const 1)) (local.get $n)))
        (local.set $p (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 3))))
        (local.set $x
          (f64x2.sub (v128.load (local.get $p))
            (f64x2.mul (local.get $fv) (v128.load (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 3)))))))
        (v128.store (local.get $p) (local.get $x))
        (local.set $zv
          (f64x2.add (local.get $zv)
            (f64x2.mul (local.get $x) (v128.load (i32.add (local.get $u) (i32.shl (local.get $c) (i32.const 3)))))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $pairs)))
      (local.set $z (f64.add (f64x2.extract_lane 0 (local.get $zv)) (f64x2.extract_lane 1 (local.get $zv))))
      (if (i32.lt_s (local.get $c) (local.get $n)) (then
        (local.set $p (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 3))))
        (local.set $xs
          (f64.sub (f64.load (local.get $p))
            (f64.mul (local.get $f) (f64.load (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 3)))))))
        (f64.store (local.get $p) (local.get $xs))
        (local.set $z
          (f64.add (local.get $z)
            (f64.mul (local.get $xs) (f64.load (i32.add (local.get $u) (i32.shl (local.get $c) (i32.const 3)))))))))
      (local.set $z (f64.mul (local.get $z) (local.get $tau)))
      (if (f64.ne (local.get $z) (f64.const 0)) (then
        (local.set $fv (f64x2.splat (local.get $z)))
        (local.set $c (i32.add (local.get $j) (i32.const 1)))
        (block $last2 (loop $pairs2
          (br_if $last2 (i32.ge_s (i32.add (local.get $c) (i32.const 1)) (local.get $n)))
          (local.set $p (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 3))))
          (v128.store (local.get $p)
            (f64x2.sub (v128.load (local.get $p))
              (f64x2.mul (local.get $fv) (v128.load (i32.add (local.get $u) (i32.shl (local.get $c) (i32.const 3)))))))
          (local.set $c (i32.add (local.get $c) (i32.const 2)))
          (br $pairs2)))
        (if (i32.lt_s (local.get $c) (local.get $n)) (then
          (local.set $p (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 3))))
          (f64.store (local.get $p)
            (f64.sub (f64.load (local.get $p))
              (f64.mul (local.get $z) (f64.load (i32.add (local.get $u) (i32.shl (local.get $c) (i32.const 3)))))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rows))))

  ;; Rows r in (i, k) of the k×S matrix at q: r −= (q_i · r) q_i, with q_i (row i) of unit length.
  ;; Columns two at a time, then the last one if S is odd.
  (func (export "project") (param $q i32) (param $i i32) (param $k i32) (param $S i32)
    (local $r i32) (local $c i32) (local $qi i32) (local $row i32) (local $dv v128) (local $d v128) (local $bytes i32)
    (local $pairs i32) (local $ds f64)
    (local.set $bytes (i32.shl (local.get $S) (i32.const 3)))
    (local.set $pairs (i32.and (local.get $bytes) (i32.const -16)))
    (local.set $qi (i32.add (local.get $q) (i32.mul (local.get $i) (local.get $bytes))))
    (local.set $r (i32.add (local.get $i) (i32.const 1)))
    (block $done (loop $rows
      (br_if $done (i32.ge_s (local.get $r) (local.get $k)))
      (local.set $row (i32.add (local.get $q) (i32.mul (local.get $r) (local.get $bytes))))
      (local.set $dv (v128.const f64x2 0 0))
      (local.set $c (i32.const 0))
      (block $dotted (loop $dot
        (br_if $dotted (i32.ge_s (local.get $c) (local.get $pairs)))
        (local.set $dv
          (f64x2.add (local.get $dv)
            (f64x2.mul (v128.load (i32.add (local.get $qi) (local.get $c)))
              (v128.load (i32.add (local.get $row) (local.get $c))))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $dot)))
      (local.set $ds (f64.add (f64x2.extract_lane 0 (local.get $dv)) (f64x2.extract_lane 1 (local.get $dv))))
      (if (i32.lt_s (local.get $pairs) (local.get $bytes)) (then
        (local.set $ds
          (f64.add (local.get $ds)
            (f64.mul (f64.load (i32.add (local.get $qi) (local.get $pairs)))
              (f64.load (i32.add (local.get $row) (local.get $pairs))))))))
      (local.set $d (f64x2.splat (local.get $ds)))
      (local.set $c (i32.const 0))
      (block $updated (loop $update
        (br_if $updated (i32.ge_s (local.get $c) (local.get $pairs)))
        (v128.store (i32.add (local.get $row) (local.get $c))
          (f64x2.sub (v128.load (i32.add (local.get $row) (local.get $c)))
            (f64x2.mul (local.get $d) (v128.load (i32.add (local.get $qi) (local.get $c))))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $update)))
      (if (i32.lt_s (local.get $pairs) (local.get $bytes)) (then
        (f64.store (i32.add (local.get $row) (local.get $pairs))
          (f64.sub (f64.load (i32.add (local.get $row) (local.get $pairs)))
            (f64.mul (local.get $ds) (f64.load (i32.add (local.get $qi) (local.get $pairs))))))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows))))
)
