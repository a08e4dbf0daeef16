;; Optimizer updates over float32 arrays in the TF.js wasm backend's own memory,
;; 4 lanes at a time (wasm SIMD), with a scalar tail. Pointers are byte offsets into
;; the imported memory; n counts elements. Arithmetic is float32, as PyTorch's.
;;
;;   adam: m ← β1·m + (1−β1)·g;  s ← β2·s + (1−β2)·g²;
;;         out ← w − lr·m / (√s·invBc2Sqrt + ε)      (lr already divided by 1 − β1^t)
;;   sgd:  out ← w − lr·g
;;
;; β1 = 0.9, β2 = 0.999, ε = 1e-8 (PyTorch's defaults). The memory import line is
;; rewritten to `shared` for the threaded backend by scripts/build-kernels.mjs.
;;
;; Subnormal floats: wasm keeps IEEE subnormals (no flush-to-zero) and x86 takes a
;; ~100-cycle assist on each one, which made a whole update 50× slower (g ≈ 1e-20 gives
;; g² ≈ 1e-40; the second moment of a dead unit decays through that range for
;; thousands of steps). So gradients with |g| < 1e-17 count as 0 (with ε = 1e-8 their
;; Adam step is below lr·1e-9) and moments below 1e-30 are stored as 0. NaN passes
;; through unchanged (the masks test `<`, which is false for NaN).
(module
  (import "env" "memory" (memory 1))
  (func (export "adam")
    (param $w i32) (param $g i32) (param $m i32) (param $s i32) (param $o i32)
    (param $n i32) (param $lr f32) (param $ib f32)
    (local $i i32) (local $end i32) (local $vend i32)
    (local $gv v128) (local $mv v128) (local $sv v128) (local $lrv v128) (local $ibv v128)
    (local $gf f32) (local $mf f32) (local $sf f32)
    (local.set $lrv (f32x4.splat (local.get $lr)))
    (local.set $ibv (f32x4.splat (local.get $ib)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vend (i32.and (local.get $end) (i32.const -16)))
    (block $vdone
      (loop $vec
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $vend)))
        (local.set $gv (v128.load align=4 (i32.add (local.get $g) (local.get $i))))
        (local.set $gv (v128.andnot (local.get $gv) (f32x4.lt (f32x4.abs (local.get $gv)) (v128.const f32x4 1e-17 1e-17 1e-17 1e-17))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.const f32x4 0.9 0.9 0.9 0.9) (v128.load align=4 (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (v128.const f32x4 0.1 0.1 0.1 0.1) (local.get $gv))))
        (local.set $sv
          (f32x4.add
            (f32x4.mul (v128.const f32x4 0.999 0.999 0.999 0.999) (v128.load align=4 (i32.add (local.get $s) (local.get $i))))
            (f32x4.mul (v128.const f32x4 0.001 0.001 0.001 0.001) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (local.set $mv (v128.andnot (local.get $mv) (f32x4.lt (f32x4.abs (local.get $mv)) (v128.const f32x4 1e-30 1e-30 1e-30 1e-30))))
        (local.set $sv (v128.andnot (local.get $sv) (f32x4.lt (local.get $sv) (v128.const f32x4 1e-30 1e-30 1e-30 1e-30))))
        (v128.store align=4 (i32.add (local.get $m) (local.get $i)) (local.get $mv))
        (v128.store align=4 (i32.add (local.get $s) (local.get $i)) (local.get $sv))
        (v128.store align=4 (i32.add (local.get $o) (local.get $i))
          (f32x4.sub
            (v128.load align=4 (i32.add (local.get $w) (local.get $i)))
            (f32x4.div
              (f32x4.mul (local.get $lrv) (local.get $mv))
              (f32x4.add
                (f32x4.mul (f32x4.sqrt (local.get $sv)) (local.get $ibv))
                (v128.const f32x4 1e-8 1e-8 1e-8 1e-8)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $tdone
      (loop $tail
        (br_if $tdone (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $gf (f32.load (i32.add (local.get $g) (local.get $i))))
        (local.set $gf (select (f32.const 0) (local.get $gf) (f32.lt (f32.abs (local.get $gf)) (f32.const 1e-17))))
        (local.set $mf
          (f32.add
            (f32.mul (f32.const 0.9) (f32.load (i32.add (local.get $m) (local.get $i))))
            (f32.mul (f32.const 0.1) (local.get $gf))))
        (local.set $sf
          (f32.add
            (f32.mul (f32.const 0.999) (f32.load (i32.add (local.get $s) (local.get $i))))
            (f32.mul (f32.const 0.001) (f32.mul (local.get $gf) (local.get $gf)))))
        (local.set $mf (select (f32.const 0) (local.get $mf) (f32.lt (f32.abs (local.get $mf)) (f32.const 1e-30))))
        (local.set $sf (select (f32.const 0) (local.get $sf) (f32.lt (local.get $sf) (f32.const 1e-30))))
        (f32.store (i32.add (local.get $m) (local.get $i)) (local.get $mf))
        (f32.store (i32.add (local.get $s) (local.get $i)) (local.get $sf))
        (f32.store (i32.add (local.get $o) (local.get $i))
          (f32.sub
            (f32.load (i32.add (local.get $w) (local.get $i)))
            (f32.div
              (f32.mul (local.get $lr) (local.get $mf))
              (f32.add (f32.mul (f32.sqrt (local.get $sf)) (local.get $ib)) (f32.const 1e-8)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  (func (export "sgd")
    (param $w i32) (param $g i32) (param $o i32) (param $n i32) (param $lr f32)
    (local $i i32) (local $end i32) (local $vend i32) (local $lrv v128) (local $gv v128) (local $gf f32)
    (local.set $lrv (f32x4.splat (local.get $lr)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vend (i32.and (local.get $end) (i32.const -16)))
    (block $vdone
      (loop $vec
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $vend)))
        (v128.store align=4 (i32.add (local.get $o) (local.get $i))
          (f32x4.sub
            (v128.load align=4 (i32.add (local.get $w) (local.get $i)))
            (f32x4.mul (local.get $lrv)
              (v128.andnot (local.tee $gv (v128.load align=4 (i32.add (local.get $g) (local.get $i))))
                (f32x4.lt (f32x4.abs (local.get $gv)) (v128.const f32x4 1e-17 1e-17 1e-17 1e-17))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $tdone
      (loop $tail
        (br_if $tdone (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store (i32.add (local.get $o) (local.get $i))
          (f32.sub
            (f32.load (i32.add (local.get $w) (local.get $i)))
            (f32.mul (local.get $lr)
              (select (f32.const 0) (local.tee $gf (f32.load (i32.add (local.get $g) (local.get $i))))
                (f32.lt (f32.abs (local.get $gf)) (f32.const 1e-17))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  ;; dst [c, r] ← src [r, c]ᵀ, in 4×4 blocks of SIMD shuffles (TF.js's generic
  ;; transpose moves one float at a time), then the ragged edges one by one.
  (func (export "transpose") (param $src i32) (param $dst i32) (param $r i32) (param $c i32)
    (local $i i32) (local $j i32) (local $r4 i32) (local $c4 i32) (local $rs i32) (local $ds i32)
    (local $pa i32) (local $pd i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $d v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rs (i32.shl (local.get $c) (i32.const 2)))
    (local.set $ds (i32.shl (local.get $r) (i32.const 2)))
    (local.set $r4 (i32.and (local.get $r) (i32.const -4)))
    (local.set $c4 (i32.and (local.get $c) (i32.const -4)))
    (block $idone
      (loop $rows
        (br_if $idone (i32.ge_u (local.get $i) (local.get $r4)))
        (local.set $pa (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rs))))
        (local.set $j (i32.const 0))
        (block $jdone
          (loop $cols
            (br_if $jdone (i32.ge_u (local.get $j) (local.get $c4)))
            (local.set $a (v128.load align=4 (local.get $pa)))
            (local.set $b (v128.load align=4 (i32.add (local.get $pa) (local.get $rs))))
            (local.set $cc (v128.load align=4 (i32.add (local.get $pa) (i32.shl (local.get $rs) (i32.const 1)))))
            (local.set $d (v128.load align=4 (i32.add (local.get $pa) (i32.mul (local.get $rs) (i32.const 3)))))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $cc) (local.get $d)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $cc) (local.get $d)))
            (local.set $pd (i32.add (local.get $dst) (i32.add (i32.mul (local.get $j) (local.get $ds)) (i32.shl (local.get $i) (i32.const 2)))))
            (v128.store align=4 (local.get $pd)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store align=4 (i32.add (local.get $pd) (local.get $ds))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store align=4 (i32.add (local.get $pd) (i32.shl (local.get $ds) (i32.const 1)))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store align=4 (i32.add (local.get $pd) (i32.mul (local.get $ds) (i32.const 3)))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rows)))
    ;; the right strip (columns c4..c of every row), then the bottom rows r4..r
    (call $edge (local.get $src) (local.get $dst) (local.get $r) (local.get $c) (i32.const 0) (local.get $r) (local.get $c4) (local.get $c))
    (call $edge (local.get $src) (local.get $dst) (local.get $r) (local.get $c) (local.get $r4) (local.get $r) (i32.const 0) (local.get $c4)))

  ;; dst[j·r + i] ← src[i·c + j] for i in [i0, i1), j in [j0, j1)
  (func $edge (param $src i32) (param $dst i32) (param $r i32) (param $c i32)
    (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32)
    (local $i i32) (local $j i32)
    (local.set $i (local.get $i0))
    (block $idone
      (loop $rows
        (br_if $idone (i32.ge_u (local.get $i) (local.get $i1)))
        (local.set $j (local.get $j0))
        (block $jdone
          (loop $cols
            (br_if $jdone (i32.ge_u (local.get $j) (local.get $j1)))
            (f32.store
              (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $r)) (local.get $i)) (i32.const 2)))
              (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $c)) (local.get $j)) (i32.const 2)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))))
