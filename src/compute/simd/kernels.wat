;; seqlab's SIMD kernels (f32x4) for the tfjs wasm backend.
;;
;; The module imports the backend's own linear memory, so every pointer below is a
;; byte offset of a tensor on the tfjs heap (TypedArray.byteOffset) and nothing is
;; copied. The kernels that work on rows of H floats need H >= 4 (src/compute/fused-kernels.ts
;; leaves narrower cells to the composite tfjs ops); H need not be a multiple of 4 (see the note above map).
;; The softmax takes any width O >= 1: whole vectors, then a scalar tail through the same $exp.
;;
;; exp(x): x = n ln2 + r with n = round(x / ln2) and |r| <= ln2/2 (ln2 split into a
;; short high part and a correction so n ln2 is exact), e^r by a degree-7 polynomial
;; (Cephes' expf coefficients), 2^n built in the exponent bits. x is clamped to
;; [-87.3, 88.3] so 2^n stays a normal float; NaN passes through as NaN.
;; Relative error about 1e-7 (a float's rounding), measured in test/simd.test.ts.

(module
  (import "env" "memory" (memory 0))

  (func $exp (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.max
      (f32x4.min (local.get $x) (v128.const f32x4 88.3 88.3 88.3 88.3))
      (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
    (local.set $n (f32x4.nearest
      (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    (local.set $r (f32x4.sub (local.get $x)
      (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r)
      (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    ;; p r^2 + r + 1
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    ;; times 2^n: (n + 127) << 23 as float bits
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; 1 / (1 + e^{-x})
  (func $sigmoid (param $x v128) (result v128)
    (f32x4.div (v128.const f32x4 1 1 1 1)
      (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp (f32x4.neg (local.get $x))))))

  ;; |x| < 0.2: the odd series to x^9 (next term below 1e-9 relative);
  ;; else sign(x) (1 - e)/(1 + e), e = e^{-2|x|} <= 0.67, so 1 - e does not cancel.
  (func $tanh (param $x v128) (result v128)
    (local $a v128) (local $e v128) (local $s v128) (local $small v128) (local $big v128)
    (local.set $a (f32x4.abs (local.get $x)))
    (local.set $e (call $exp (f32x4.mul (local.get $a) (v128.const f32x4 -2 -2 -2 -2))))
    (local.set $big (v128.or
      (f32x4.div (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $e)) (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $e)))
      (v128.and (local.get $x) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
    (local.set $s (f32x4.mul (local.get $x) (local.get $x)))
    ;; x + x s (-1/3 + s (2/15 + s (-17/315 + s 62/2835)))
    (local.set $small (f32x4.add (f32x4.mul (local.get $s) (v128.const f32x4 0.0218694885 0.0218694885 0.0218694885 0.0218694885))
      (v128.const f32x4 -0.0539682540 -0.0539682540 -0.0539682540 -0.0539682540)))
    (local.set $small (f32x4.add (f32x4.mul (local.get $small) (local.get $s)) (v128.const f32x4 0.133333333 0.133333333 0.133333333 0.133333333)))
    (local.set $small (f32x4.add (f32x4.mul (local.get $small) (local.get $s)) (v128.const f32x4 -0.333333333 -0.333333333 -0.333333333 -0.333333333)))
    (local.set $small (f32x4.add (local.get $x) (f32x4.mul (f32x4.mul (local.get $small) (local.get $s)) (local.get $x))))
    (v128.bitselect (local.get $small) (local.get $big)
      (f32x4.lt (local.get $a) (v128.const f32x4 0.2 0.2 0.2 0.2))))

  ;; The loops over a row (or over n floats) step one vector at a time, from 0 to
  ;; last = end − one vector, and stop after the vector at last:
  ;;   (br_if $done (i32.ge_u j last))  j ← min(j + 16, last)
  ;; so a row that is not a multiple of 4 floats wide ends with a vector that overlaps the one
  ;; before. The element-wise kernels then write the same values into the shared lanes again (no
  ;; lane reads another lane or an output); nothing outside the row is read or written. A row
  ;; must be at least one vector wide (H >= 4: fused-kernels.ts checks it). For rows a multiple
  ;; of 4 wide the loop visits the same vectors as a plain j += 16 one.

  ;; Element-wise over n >= 4 floats, for the tests: kind 0 exp, 1 sigmoid, 2 tanh.
  (func (export "map") (param $src i32) (param $dst i32) (param $n i32) (param $kind i32)
    (local $i i32) (local $end i32) (local $last i32) (local $v v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $last (i32.sub (local.get $end) (i32.const 16)))
    (if (i32.eqz (local.get $n)) (then (return)))
    (block $done (loop $next
      (local.set $v (v128.load (i32.add (local.get $src) (local.get $i))))
      (v128.store (i32.add (local.get $dst) (local.get $i))
        (if (result v128) (i32.eqz (local.get $kind))
          (then (call $exp (local.get $v)))
          (else (if (result v128) (i32.eq (local.get $kind) (i32.const 1))
            (then (call $sigmoid (local.get $v)))
            (else (call $tanh (local.get $v)))))))
      (br_if $done (i32.ge_u (local.get $i) (local.get $last)))
      (local.set $i (select (local.get $last) (local.tee $i (i32.add (local.get $i) (i32.const 16)))
        (i32.gt_u (local.get $i) (local.get $last))))
      (br $next))))

  (func $hmax (param $v v128) (result f32)
    (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.max (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; Softmax cross-entropy rows. z [N, O], bias [O], w [N] → out [N, O] = w_n softmax(z_n + b)
  ;; and stats [N, 2] = (max_n, Σ e^{z_n + b − max_n}); the caller finishes the loss
  ;; (w_n (log Σ + max − logit)) and subtracts w_n at each target. Each pass takes the row's
  ;; whole vectors, then its last O mod 4 floats one at a time (e^x as lane 0 of $exp).
  (func (export "softmax_xent") (param $z i32) (param $bias i32) (param $w i32) (param $out i32) (param $stats i32) (param $N i32) (param $O i32)
    (local $n i32) (local $i i32) (local $rowBytes i32) (local $vecBytes i32) (local $zr i32) (local $or i32)
    (local $v v128) (local $acc v128) (local $m f32) (local $sum f32) (local $x f32)
    (local.set $rowBytes (i32.shl (local.get $O) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $rowsDone (loop $row
      (br_if $rowsDone (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $zr (i32.add (local.get $z) (i32.mul (local.get $n) (local.get $rowBytes))))
      (local.set $or (i32.add (local.get $out) (i32.mul (local.get $n) (local.get $rowBytes))))
      ;; biased logits into out, and their max
      (local.set $acc (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $i (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $vecBytes)))
        (local.set $v (f32x4.add (v128.load (i32.add (local.get $zr) (local.get $i))) (v128.load (i32.add (local.get $bias) (local.get $i)))))
        (v128.store (i32.add (local.get $or) (local.get $i)) (local.get $v))
        (local.set $acc (f32x4.max (local.get $acc) (local.get $v)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l1)))
      (local.set $m (call $hmax (local.get $acc)))
      (block $t1 (loop $tl1
        (br_if $t1 (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (local.set $x (f32.add (f32.load (i32.add (local.get $zr) (local.get $i))) (f32.load (i32.add (local.get $bias) (local.get $i)))))
        (f32.store (i32.add (local.get $or) (local.get $i)) (local.get $x))
        (local.set $m (f32.max (local.get $m) (local.get $x)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tl1)))
      ;; e^{v − max} and its sum
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $v (f32x4.splat (local.get $m)))
      (local.set $i (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $i) (local.get $vecBytes)))
        (v128.store (i32.add (local.get $or) (local.get $i))
          (call $exp (f32x4.sub (v128.load (i32.add (local.get $or) (local.get $i))) (local.get $v))))
        (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $or) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l2)))
      (local.set $sum (call $hsum (local.get $acc)))
      (block $t2 (loop $tl2
        (br_if $t2 (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (local.set $x (f32x4.extract_lane 0 (call $exp (f32x4.splat
          (f32.sub (f32.load (i32.add (local.get $or) (local.get $i))) (local.get $m))))))
        (f32.store (i32.add (local.get $or) (local.get $i)) (local.get $x))
        (local.set $sum (f32.add (local.get $sum) (local.get $x)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tl2)))
      ;; scale by w_n / Σ
      (local.set $x (f32.div
        (f32.load (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
        (local.get $sum)))
      (local.set $v (f32x4.splat (local.get $x)))
      (local.set $i (i32.const 0))
      (block $d3 (loop $l3
        (br_if $d3 (i32.ge_u (local.get $i) (local.get $vecBytes)))
        (v128.store (i32.add (local.get $or) (local.get $i))
          (f32x4.mul (v128.load (i32.add (local.get $or) (local.get $i))) (local.get $v)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l3)))
      (block $t3 (loop $tl3
        (br_if $t3 (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (f32.store (i32.add (local.get $or) (local.get $i))
          (f32.mul (f32.load (i32.add (local.get $or) (local.get $i))) (local.get $x)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tl3)))
      (f32.store (i32.add (local.get $stats) (i32.shl (local.get $n) (i32.const 3))) (local.get $m))
      (f32.store offset=4 (i32.add (local.get $stats) (i32.shl (local.get $n) (i32.const 3))) (local.get $sum))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $row))))

  ;; LSTM step forward (gate order i, f, g, o). xw, hw [B, 4H] (xw already at step t),
  ;; c [B, H] → h', c' [B, H], P [B, 4H] (local factors of the pre-activations),
  ;; dcH = o (1 − tanh² c') [B, H], f [B, H].
  (func (export "lstm_forward") (param $xw i32) (param $hw i32) (param $c i32)
    (param $hN i32) (param $cN i32) (param $P i32) (param $dcH i32) (param $fOut i32) (param $B i32) (param $H i32)
    (local $b i32) (local $j i32) (local $Hb i32) (local $last i32) (local $gRow i32) (local $sRow i32) (local $k i32) (local $s i32)
    (local $i v128) (local $f v128) (local $g v128) (local $o v128) (local $cp v128) (local $cn v128) (local $tc v128)
    (local.set $Hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $last (i32.sub (local.get $Hb) (i32.const 16)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $gRow (i32.mul (local.get $b) (i32.shl (local.get $Hb) (i32.const 2))))
      (local.set $sRow (i32.mul (local.get $b) (local.get $Hb)))
      (local.set $j (i32.const 0))
      (block $jd (loop $jl
        (local.set $k (i32.add (local.get $gRow) (local.get $j)))
        (local.set $s (i32.add (local.get $sRow) (local.get $j)))
        (local.set $i (call $sigmoid (f32x4.add
          (v128.load (i32.add (local.get $xw) (local.get $k)))
          (v128.load (i32.add (local.get $hw) (local.get $k))))))
        (local.set $f (call $sigmoid (f32x4.add
          (v128.load (i32.add (local.get $xw) (i32.add (local.get $k) (local.get $Hb))))
          (v128.load (i32.add (local.get $hw) (i32.add (local.get $k) (local.get $Hb)))))))
        (local.set $g (call $tanh (f32x4.add
          (v128.load (i32.add (local.get $xw) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1)))))
          (v128.load (i32.add (local.get $hw) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1))))))))
        (local.set $o (call $sigmoid (f32x4.add
          (v128.load (i32.add (local.get $xw) (i32.add (local.get $k) (i32.mul (local.get $Hb) (i32.const 3)))))
          (v128.load (i32.add (local.get $hw) (i32.add (local.get $k) (i32.mul (local.get $Hb) (i32.const 3))))))))
        (local.set $cp (v128.load (i32.add (local.get $c) (local.get $s))))
        (local.set $cn (f32x4.add (f32x4.mul (local.get $f) (local.get $cp)) (f32x4.mul (local.get $i) (local.get $g))))
        (local.set $tc (call $tanh (local.get $cn)))
        (v128.store (i32.add (local.get $hN) (local.get $s)) (f32x4.mul (local.get $o) (local.get $tc)))
        (v128.store (i32.add (local.get $cN) (local.get $s)) (local.get $cn))
        (v128.store (i32.add (local.get $P) (local.get $k))
          (f32x4.mul (local.get $g) (f32x4.mul (local.get $i) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $i)))))
        (v128.store (i32.add (local.get $P) (i32.add (local.get $k) (local.get $Hb)))
          (f32x4.mul (local.get $cp) (f32x4.mul (local.get $f) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $f)))))
        (v128.store (i32.add (local.get $P) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1))))
          (f32x4.mul (local.get $i) (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $g) (local.get $g)))))
        (v128.store (i32.add (local.get $P) (i32.add (local.get $k) (i32.mul (local.get $Hb) (i32.const 3))))
          (f32x4.mul (local.get $tc) (f32x4.mul (local.get $o) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $o)))))
        (v128.store (i32.add (local.get $dcH) (local.get $s))
          (f32x4.mul (local.get $o) (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $tc) (local.get $tc)))))
        (v128.store (i32.add (local.get $fOut) (local.get $s)) (local.get $f))
        (br_if $jd (i32.ge_u (local.get $j) (local.get $last)))
        (local.set $j (select (local.get $last) (local.tee $j (i32.add (local.get $j) (i32.const 16)))
          (i32.gt_u (local.get $j) (local.get $last))))
        (br $jl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; GRU step forward (gate order r, z, n; b_hh inside the reset product).
  ;; xw, hw [B, 3H], h [B, H], bhh [3H] → h' [B, H], ph, px [B, 3H], z [B, H].
  (func (export "gru_forward") (param $xw i32) (param $hw i32) (param $h i32) (param $bhh i32)
    (param $hN i32) (param $ph i32) (param $px i32) (param $zOut i32) (param $B i32) (param $H i32)
    (local $b i32) (local $j i32) (local $Hb i32) (local $last i32) (local $gRow i32) (local $sRow i32) (local $k i32) (local $s i32)
    (local $r v128) (local $z v128) (local $m v128) (local $n v128) (local $hp v128) (local $dn v128) (local $pr v128) (local $pz v128)
    (local.set $Hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $last (i32.sub (local.get $Hb) (i32.const 16)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $gRow (i32.mul (local.get $b) (i32.mul (local.get $Hb) (i32.const 3))))
      (local.set $sRow (i32.mul (local.get $b) (local.get $Hb)))
      (local.set $j (i32.const 0))
      (block $jd (loop $jl
        (local.set $k (i32.add (local.get $gRow) (local.get $j)))
        (local.set $s (i32.add (local.get $sRow) (local.get $j)))
        (local.set $r (call $sigmoid (f32x4.add (f32x4.add
          (v128.load (i32.add (local.get $xw) (local.get $k)))
          (v128.load (i32.add (local.get $hw) (local.get $k))))
          (v128.load (i32.add (local.get $bhh) (local.get $j))))))
        (local.set $z (call $sigmoid (f32x4.add (f32x4.add
          (v128.load (i32.add (local.get $xw) (i32.add (local.get $k) (local.get $Hb))))
          (v128.load (i32.add (local.get $hw) (i32.add (local.get $k) (local.get $Hb)))))
          (v128.load (i32.add (local.get $bhh) (i32.add (local.get $j) (local.get $Hb)))))))
        (local.set $m (f32x4.add
          (v128.load (i32.add (local.get $hw) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1)))))
          (v128.load (i32.add (local.get $bhh) (i32.add (local.get $j) (i32.shl (local.get $Hb) (i32.const 1)))))))
        (local.set $n (call $tanh (f32x4.add
          (v128.load (i32.add (local.get $xw) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1)))))
          (f32x4.mul (local.get $r) (local.get $m)))))
        (local.set $hp (v128.load (i32.add (local.get $h) (local.get $s))))
        (v128.store (i32.add (local.get $hN) (local.get $s))
          (f32x4.add (local.get $n) (f32x4.mul (local.get $z) (f32x4.sub (local.get $hp) (local.get $n)))))
        (local.set $dn (f32x4.mul (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $z))
          (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $n) (local.get $n)))))
        (local.set $pr (f32x4.mul (f32x4.mul (local.get $dn) (local.get $m))
          (f32x4.mul (local.get $r) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $r)))))
        (local.set $pz (f32x4.mul (f32x4.sub (local.get $hp) (local.get $n))
          (f32x4.mul (local.get $z) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $z)))))
        (v128.store (i32.add (local.get $ph) (local.get $k)) (local.get $pr))
        (v128.store (i32.add (local.get $ph) (i32.add (local.get $k) (local.get $Hb))) (local.get $pz))
        (v128.store (i32.add (local.get $ph) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1))))
          (f32x4.mul (local.get $dn) (local.get $r)))
        (v128.store (i32.add (local.get $px) (local.get $k)) (local.get $pr))
        (v128.store (i32.add (local.get $px) (i32.add (local.get $k) (local.get $Hb))) (local.get $pz))
        (v128.store (i32.add (local.get $px) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1)))) (local.get $dn))
        (v128.store (i32.add (local.get $zOut) (local.get $s)) (local.get $z))
        (br_if $jd (i32.ge_u (local.get $j) (local.get $last)))
        (local.set $j (select (local.get $last) (local.tee $j (i32.add (local.get $j) (i32.const 16)))
          (i32.gt_u (local.get $j) (local.get $last))))
        (br $jl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; Vanilla RNN step forward over n = B·H floats: y = φ(xw + hw), dphi = φ′.
  ;; nl 0 tanh, 1 sigmoid, 2 relu (φ′ = 1 where y > 0).
  (func (export "rnn_forward") (param $xw i32) (param $hw i32) (param $y i32) (param $dphi i32) (param $n i32) (param $nl i32)
    (local $i i32) (local $end i32) (local $last i32) (local $a v128) (local $v v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $last (i32.sub (local.get $end) (i32.const 16)))
    (if (i32.eqz (local.get $n)) (then (return)))
    (block $done (loop $next
      (local.set $a (f32x4.add (v128.load (i32.add (local.get $xw) (local.get $i))) (v128.load (i32.add (local.get $hw) (local.get $i)))))
      (if (i32.eqz (local.get $nl))
        (then
          (local.set $v (call $tanh (local.get $a)))
          (v128.store (i32.add (local.get $dphi) (local.get $i))
            (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $v) (local.get $v)))))
        (else (if (i32.eq (local.get $nl) (i32.const 1))
          (then
            (local.set $v (call $sigmoid (local.get $a)))
            (v128.store (i32.add (local.get $dphi) (local.get $i))
              (f32x4.mul (local.get $v) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $v)))))
          (else
            ;; relu; NaN stays NaN (max propagates it)
            (local.set $v (f32x4.max (local.get $a) (v128.const f32x4 0 0 0 0)))
            (v128.store (i32.add (local.get $dphi) (local.get $i))
              (v128.and (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 1 1 1 1)))))))
      (v128.store (i32.add (local.get $y) (local.get $i)) (local.get $v))
      (br_if $done (i32.ge_u (local.get $i) (local.get $last)))
      (local.set $i (select (local.get $last) (local.tee $i (i32.add (local.get $i) (i32.const 16)))
        (i32.gt_u (local.get $i) (local.get $last))))
      (br $next))))

  ;; LSTM step backward. above [B, H] (at step t), viaW, carry [B, H] (read unless first),
  ;; P [B, 4H], dcH, f [B, H] → G [B, H], da [B, 4H], dcPrev [B, H].
  (func (export "lstm_backward") (param $above i32) (param $viaW i32) (param $carry i32) (param $P i32) (param $dcH i32) (param $f i32)
    (param $G i32) (param $da i32) (param $dcPrev i32) (param $B i32) (param $H i32) (param $first i32)
    (local $b i32) (local $j i32) (local $Hb i32) (local $last i32) (local $gRow i32) (local $sRow i32) (local $k i32) (local $s i32)
    (local $g v128) (local $dc v128)
    (local.set $Hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $last (i32.sub (local.get $Hb) (i32.const 16)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $gRow (i32.mul (local.get $b) (i32.shl (local.get $Hb) (i32.const 2))))
      (local.set $sRow (i32.mul (local.get $b) (local.get $Hb)))
      (local.set $j (i32.const 0))
      (block $jd (loop $jl
        (local.set $k (i32.add (local.get $gRow) (local.get $j)))
        (local.set $s (i32.add (local.get $sRow) (local.get $j)))
        (local.set $g (v128.load (i32.add (local.get $above) (local.get $s))))
        (local.set $dc (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $dcH) (local.get $s)))))
        (if (i32.eqz (local.get $first))
          (then
            (local.set $g (f32x4.add (local.get $g) (v128.load (i32.add (local.get $viaW) (local.get $s)))))
            (local.set $dc (f32x4.add (v128.load (i32.add (local.get $carry) (local.get $s)))
              (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $dcH) (local.get $s))))))))
        (v128.store (i32.add (local.get $G) (local.get $s)) (local.get $g))
        (v128.store (i32.add (local.get $da) (local.get $k))
          (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $P) (local.get $k)))))
        (v128.store (i32.add (local.get $da) (i32.add (local.get $k) (local.get $Hb)))
          (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $P) (i32.add (local.get $k) (local.get $Hb))))))
        (v128.store (i32.add (local.get $da) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1))))
          (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $P) (i32.add (local.get $k) (i32.shl (local.get $Hb) (i32.const 1)))))))
        (v128.store (i32.add (local.get $da) (i32.add (local.get $k) (i32.mul (local.get $Hb) (i32.const 3))))
          (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $P) (i32.add (local.get $k) (i32.mul (local.get $Hb) (i32.const 3)))))))
        (v128.store (i32.add (local.get $dcPrev) (local.get $s))
          (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $f) (local.get $s)))))
        (br_if $jd (i32.ge_u (local.get $j) (local.get $last)))
        (local.set $j (select (local.get $last) (local.tee $j (i32.add (local.get $j) (i32.const 16)))
          (i32.gt_u (local.get $j) (local.get $last))))
        (br $jl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; GRU step backward. above [B, H], viaW, carry [B, H] (read unless first), ph, px [B, 3H],
  ;; z [B, H] → G [B, H], dah, dax [B, 3H], direct = G ⊙ z [B, H].
  (func (export "gru_backward") (param $above i32) (param $viaW i32) (param $carry i32) (param $ph i32) (param $px i32) (param $z i32)
    (param $G i32) (param $dah i32) (param $dax i32) (param $direct i32) (param $B i32) (param $H i32) (param $first i32)
    (local $b i32) (local $j i32) (local $Hb i32) (local $last i32) (local $gRow i32) (local $sRow i32) (local $k i32) (local $s i32) (local $q i32) (local $end i32)
    (local $g v128)
    (local.set $Hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $last (i32.sub (local.get $Hb) (i32.const 16)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $gRow (i32.mul (local.get $b) (i32.mul (local.get $Hb) (i32.const 3))))
      (local.set $sRow (i32.mul (local.get $b) (local.get $Hb)))
      (local.set $j (i32.const 0))
      (block $jd (loop $jl
        (local.set $k (i32.add (local.get $gRow) (local.get $j)))
        (local.set $s (i32.add (local.get $sRow) (local.get $j)))
        (local.set $g (v128.load (i32.add (local.get $above) (local.get $s))))
        (if (i32.eqz (local.get $first))
          (then (local.set $g (f32x4.add (local.get $g) (f32x4.add
            (v128.load (i32.add (local.get $viaW) (local.get $s)))
            (v128.load (i32.add (local.get $carry) (local.get $s))))))))
        (v128.store (i32.add (local.get $G) (local.get $s)) (local.get $g))
        (v128.store (i32.add (local.get $direct) (local.get $s))
          (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $z) (local.get $s)))))
        ;; the three gates of dah and dax
        (local.set $q (local.get $k))
        (local.set $end (i32.add (local.get $k) (i32.mul (local.get $Hb) (i32.const 3))))
        (block $gd (loop $gl
          (br_if $gd (i32.ge_u (local.get $q) (local.get $end)))
          (v128.store (i32.add (local.get $dah) (local.get $q))
            (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $ph) (local.get $q)))))
          (v128.store (i32.add (local.get $dax) (local.get $q))
            (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $px) (local.get $q)))))
          (local.set $q (i32.add (local.get $q) (local.get $Hb)))
          (br $gl)))
        (br_if $jd (i32.ge_u (local.get $j) (local.get $last)))
        (local.set $j (select (local.get $last) (local.tee $j (i32.add (local.get $j) (i32.const 16)))
          (i32.gt_u (local.get $j) (local.get $last))))
        (br $jl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; Vanilla RNN step backward over n = B·H floats: G = above (+ viaW unless first), da = G ⊙ φ′.
  (func (export "rnn_backward") (param $above i32) (param $viaW i32) (param $dphi i32) (param $G i32) (param $da i32) (param $n i32) (param $first i32)
    (local $i i32) (local $end i32) (local $last i32) (local $g v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $last (i32.sub (local.get $end) (i32.const 16)))
    (if (i32.eqz (local.get $n)) (then (return)))
    (block $done (loop $next
      (local.set $g (v128.load (i32.add (local.get $above) (local.get $i))))
      (if (i32.eqz (local.get $first))
        (then (local.set $g (f32x4.add (local.get $g) (v128.load (i32.add (local.get $viaW) (local.get $i)))))))
      (v128.store (i32.add (local.get $G) (local.get $i)) (local.get $g))
      (v128.store (i32.add (local.get $da) (local.get $i))
        (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $dphi) (local.get $i)))))
      (br_if $done (i32.ge_u (local.get $i) (local.get $last)))
      (local.set $i (select (local.get $last) (local.tee $i (i32.add (local.get $i) (i32.const 16)))
        (i32.gt_u (local.get $i) (local.get $last))))
      (br $next))))

  ;; One step of the probes' backward sweep (see cellPullback in src/compute/fused-kernels.ts).
  ;; kind 0 rnn, 1 lstm, 2 gru. gh, gx [B·R, H] → the per-sequence scale (max |·| of the
  ;; finished cotangent, floored at 1e-30, or 1 unless normalize) into scaleOut [B], the
  ;; scaled rows into jac [B·R, W] (W = 2H in state mode: [h | c]), and when pull, the start
  ;; of the pullback through the step: dah [B·R, G·H] and direct [B·R, H] from the local
  ;; factors l0 (rnn φ′ [B, H]; lstm P [B, 4H]; gru P_h [B, 3H]), l1 (lstm dcH), l2 (lstm f, gru z).
  (func (export "pullback") (param $kind i32) (param $gh i32) (param $gx i32) (param $jac i32) (param $scaleOut i32)
    (param $dah i32) (param $direct i32) (param $l0 i32) (param $l1 i32) (param $l2 i32)
    (param $B i32) (param $R i32) (param $H i32) (param $normalize i32) (param $state i32) (param $pull i32)
    (local $b i32) (local $r i32) (local $j i32) (local $i i32) (local $n i32) (local $end i32) (local $last i32) (local $lastJ i32)
    (local $G i32) (local $W i32) (local $row i32) (local $jrow i32) (local $q i32) (local $p i32) (local $lb i32)
    (local $acc v128) (local $v v128) (local $x v128) (local $sv v128) (local $g v128) (local $gc v128) (local $dc v128) (local $scale f32)
    (local.set $G (i32.mul (local.get $H)
      (if (result i32) (i32.eq (local.get $kind) (i32.const 1)) (then (i32.const 4))
        (else (if (result i32) (i32.eq (local.get $kind) (i32.const 2)) (then (i32.const 3)) (else (i32.const 1)))))))
    (local.set $W (if (result i32) (local.get $state) (then (i32.shl (local.get $H) (i32.const 1))) (else (local.get $H))))
    (local.set $n (i32.mul (local.get $R) (local.get $H)))
    (local.set $lastJ (i32.sub (local.get $H) (i32.const 4)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      ;; the scale: max |G_h| (gru: |gh + gx|), and max |G_c| too for the lstm
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $i (i32.mul (local.get $b) (local.get $n)))
      (local.set $end (i32.add (local.get $i) (local.get $n)))
      (local.set $last (i32.sub (local.get $end) (i32.const 4)))
      (block $md (loop $ml
        (local.set $v (v128.load (i32.add (local.get $gh) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $x (v128.load (i32.add (local.get $gx) (i32.shl (local.get $i) (i32.const 2)))))
        (if (i32.eq (local.get $kind) (i32.const 2)) (then (local.set $v (f32x4.add (local.get $v) (local.get $x)))))
        ;; pmax keeps the accumulator when a value is NaN
        (local.set $acc (f32x4.pmax (local.get $acc) (f32x4.abs (local.get $v))))
        (if (i32.eq (local.get $kind) (i32.const 1)) (then (local.set $acc (f32x4.pmax (local.get $acc) (f32x4.abs (local.get $x))))))
        (br_if $md (i32.ge_u (local.get $i) (local.get $last)))
        (local.set $i (select (local.get $last) (local.tee $i (i32.add (local.get $i) (i32.const 4)))
          (i32.gt_u (local.get $i) (local.get $last))))
        (br $ml)))
      (local.set $scale (if (result f32) (local.get $normalize)
        (then (f32.max (call $hmax (local.get $acc)) (f32.const 1e-30)))
        (else (f32.const 1))))
      (f32.store (i32.add (local.get $scaleOut) (i32.shl (local.get $b) (i32.const 2))) (local.get $scale))
      (local.set $sv (f32x4.splat (local.get $scale)))
      (local.set $r (i32.const 0))
      (block $rd (loop $rl
        (br_if $rd (i32.ge_u (local.get $r) (local.get $R)))
        (local.set $row (i32.mul (i32.add (i32.mul (local.get $b) (local.get $R)) (local.get $r)) (local.get $H)))
        (local.set $jrow (i32.mul (i32.add (i32.mul (local.get $b) (local.get $R)) (local.get $r)) (local.get $W)))
        (local.set $q (i32.mul (i32.add (i32.mul (local.get $b) (local.get $R)) (local.get $r)) (local.get $G)))
        (local.set $j (i32.const 0))
        (block $jd (loop $jl
          (local.set $v (v128.load (i32.add (local.get $gh) (i32.shl (i32.add (local.get $row) (local.get $j)) (i32.const 2)))))
          (local.set $x (v128.load (i32.add (local.get $gx) (i32.shl (i32.add (local.get $row) (local.get $j)) (i32.const 2)))))
          (if (i32.eq (local.get $kind) (i32.const 2)) (then (local.set $v (f32x4.add (local.get $v) (local.get $x)))))
          (local.set $g (f32x4.div (local.get $v) (local.get $sv)))
          (local.set $gc (f32x4.div (local.get $x) (local.get $sv)))
          (v128.store (i32.add (local.get $jac) (i32.shl (i32.add (local.get $jrow) (local.get $j)) (i32.const 2))) (local.get $g))
          (if (local.get $state)
            (then (v128.store (i32.add (local.get $jac) (i32.shl (i32.add (i32.add (local.get $jrow) (local.get $H)) (local.get $j)) (i32.const 2))) (local.get $gc))))
          (if (local.get $pull) (then
            (local.set $lb (i32.shl (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $j)) (i32.const 2)))
            (local.set $i (i32.shl (i32.add (local.get $q) (local.get $j)) (i32.const 2))) ;; dah, bytes
            (if (i32.eqz (local.get $kind))
              (then (v128.store (i32.add (local.get $dah) (local.get $i))
                (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $l0) (local.get $lb)))))))
            (if (i32.eq (local.get $kind) (i32.const 1)) (then
              (local.set $p (i32.shl (i32.add (i32.mul (local.get $b) (i32.shl (local.get $H) (i32.const 2))) (local.get $j)) (i32.const 2)))
              (local.set $dc (f32x4.add (local.get $gc) (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $l1) (local.get $lb))))))
              (v128.store (i32.add (local.get $dah) (local.get $i))
                (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $l0) (local.get $p)))))
              (v128.store (i32.add (local.get $dah) (i32.add (local.get $i) (i32.shl (local.get $H) (i32.const 2))))
                (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $l0) (i32.add (local.get $p) (i32.shl (local.get $H) (i32.const 2)))))))
              (v128.store (i32.add (local.get $dah) (i32.add (local.get $i) (i32.shl (local.get $H) (i32.const 3))))
                (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $l0) (i32.add (local.get $p) (i32.shl (local.get $H) (i32.const 3)))))))
              (v128.store (i32.add (local.get $dah) (i32.add (local.get $i) (i32.mul (local.get $H) (i32.const 12))))
                (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $l0) (i32.add (local.get $p) (i32.mul (local.get $H) (i32.const 12)))))))
              (v128.store (i32.add (local.get $direct) (i32.shl (i32.add (local.get $row) (local.get $j)) (i32.const 2)))
                (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $l2) (local.get $lb)))))))
            (if (i32.eq (local.get $kind) (i32.const 2)) (then
              (local.set $p (i32.shl (i32.add (i32.mul (local.get $b) (i32.mul (local.get $H) (i32.const 3))) (local.get $j)) (i32.const 2)))
              (v128.store (i32.add (local.get $dah) (local.get $i))
                (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $l0) (local.get $p)))))
              (v128.store (i32.add (local.get $dah) (i32.add (local.get $i) (i32.shl (local.get $H) (i32.const 2))))
                (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $l0) (i32.add (local.get $p) (i32.shl (local.get $H) (i32.const 2)))))))
              (v128.store (i32.add (local.get $dah) (i32.add (local.get $i) (i32.shl (local.get $H) (i32.const 3))))
                (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $l0) (i32.add (local.get $p) (i32.shl (local.get $H) (i32.const 3)))))))
              (v128.store (i32.add (local.get $direct) (i32.shl (i32.add (local.get $row) (local.get $j)) (i32.const 2)))
                (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $l2) (local.get $lb)))))))))
          (br_if $jd (i32.ge_u (local.get $j) (local.get $lastJ)))
          (local.set $j (select (local.get $lastJ) (local.tee $j (i32.add (local.get $j) (i32.const 4)))
            (i32.gt_u (local.get $j) (local.get $lastJ))))
          (br $jl)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; dst [cols, rows] = srcᵀ, src [rows, cols] float32, rows and cols multiples of 4:
  ;; 4×4 blocks transposed in registers, visited in 32×32 tiles so the strided writes
  ;; of a tile stay in cache.
  (func (export "transpose") (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $ti i32) (local $tj i32) (local $i i32) (local $j i32) (local $iend i32) (local $jend i32)
    (local $rb i32) (local $cb i32) (local $s i32) (local $d i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rb (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $cb (i32.shl (local.get $cols) (i32.const 2)))
    (block $tid (loop $til
      (br_if $tid (i32.ge_u (local.get $ti) (local.get $rows)))
      (local.set $iend (select (i32.add (local.get $ti) (i32.const 32)) (local.get $rows)
        (i32.lt_u (i32.add (local.get $ti) (i32.const 32)) (local.get $rows))))
      (local.set $tj (i32.const 0))
      (block $tjd (loop $tjl
        (br_if $tjd (i32.ge_u (local.get $tj) (local.get $cols)))
        (local.set $jend (select (i32.add (local.get $tj) (i32.const 32)) (local.get $cols)
          (i32.lt_u (i32.add (local.get $tj) (i32.const 32)) (local.get $cols))))
        (local.set $i (local.get $ti))
        (block $id (loop $il
          (br_if $id (i32.ge_u (local.get $i) (local.get $iend)))
          (local.set $j (local.get $tj))
          (block $jd (loop $jl
            (br_if $jd (i32.ge_u (local.get $j) (local.get $jend)))
            (local.set $s (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2))))
            (local.set $a0 (v128.load (local.get $s)))
            (local.set $a1 (v128.load (i32.add (local.get $s) (local.get $cb))))
            (local.set $a2 (v128.load (i32.add (local.get $s) (i32.shl (local.get $cb) (i32.const 1)))))
            (local.set $a3 (v128.load (i32.add (local.get $s) (i32.mul (local.get $cb) (i32.const 3)))))
            ;; interleave pairs of rows, then pairs of pairs
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3)))
            (local.set $d (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2))))
            (v128.store (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store (i32.add (local.get $d) (local.get $rb)) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store (i32.add (local.get $d) (i32.shl (local.get $rb) (i32.const 1))) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store (i32.add (local.get $d) (i32.mul (local.get $rb) (i32.const 3))) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $jl)))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $il)))
        (local.set $tj (i32.add (local.get $tj) (i32.const 32)))
        (br $tjl)))
      (local.set $ti (i32.add (local.get $ti) (i32.const 32)))
      (br $til))))
)
