"""Checks, in TensorFlow itself, of the official HDML code's arithmetic that notebook 02 emulates in
PyTorch. TensorFlow is not a dependency of this repository: run it in an environment that has it,

    python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu && /tmp/tf/bin/python scripts/official_tf_checks.py

It uses TensorFlow 2's compat.v1 graph mode, the API of the official TensorFlow 1 code, on the CPU:
1. ``nn_Ops.training``'s guard, ``tf.cond(is_nan(loss), 0, loss)``, on a loss that is NaN: its value
   and its gradient, and the weight after one Adam step;
2. ``nn_Ops.distance`` (a square root with no ε) at distance 0: its gradient;
3. ``HDML.Pulling``'s ``tf.tile(neg, [FLAGS.batch_size / 2, 1])`` under Python 3, where the
   multiple is a float;
4. J_syn's ``new_npair_loss(equal_shape=False)``, which keeps ``half_batch_size=64``: ``tf.split``
   of 8 anchors (the report's batch of 16) and of 64 anchors into 64;
5. ``sparse_softmax_cross_entropy_with_logits`` with a class id ≥ num_class on the CPU (TensorFlow
   documents NaN loss and gradient rows on a GPU instead; no GPU here).
"""

from __future__ import annotations


def main() -> None:
    import tensorflow as tf

    v1 = tf.compat.v1
    v1.disable_eager_execution()
    print("TensorFlow", tf.__version__)
    with tf.Graph().as_default():
        x = v1.get_variable("x", initializer=tf.constant([0.0, 1.0]))
        raw = tf.reduce_sum(x * tf.math.log(x))  # 0 · log 0: NaN in the forward pass
        guarded = tf.cond(tf.math.is_nan(raw), true_fn=lambda: tf.constant(0.0), false_fn=lambda: raw)
        grad = tf.gradients(guarded, [x])[0]
        step = v1.train.AdamOptimizer(1e-3).minimize(guarded, var_list=[x])
        a = v1.get_variable("a", initializer=tf.constant([[1.0, 2.0]]))
        d = tf.sqrt(tf.reduce_sum(tf.square(a - tf.constant([[1.0, 2.0]])), axis=1, keepdims=True))
        grad_d = tf.gradients(tf.reduce_sum(d), [a])[0]
        with v1.Session() as s:
            s.run(v1.global_variables_initializer())
            print("1. guard: raw loss", s.run(raw), "| guarded loss", s.run(guarded), "| its gradient", s.run(grad))
            s.run(step)
            print("   the weight after one Adam step on the guarded loss:", s.run(x))
            print("2. sqrt with no eps at distance 0: distance", s.run(d).ravel(), "| gradient", s.run(grad_d).ravel())
    checks = {
        "3. tf.tile(neg, [16 / 2, 1])": lambda: tf.tile(tf.zeros([8, 4]), [16 / 2, 1]),
        "4. tf.split(8 anchors, 64)": lambda: tf.split(tf.zeros([8, 4]), 64, axis=0),
        "   tf.split(64 anchors, 64)": lambda: tf.split(tf.zeros([64, 4]), 64, axis=0),
    }
    for name, build in checks.items():
        try:
            with tf.Graph().as_default():
                build()
            print(name, "builds")
        except (TypeError, ValueError) as e:
            print(name, "fails:", type(e).__name__, str(e).splitlines()[0][:160])
    try:
        with tf.Graph().as_default():
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([3, 150]), logits=tf.zeros([2, 99]))
            with v1.Session() as s:
                print("5. cross-entropy with id 150 of 99 logits on the CPU:", s.run(ce))
    except tf.errors.InvalidArgumentError as e:
        print("5. cross-entropy with id 150 of 99 logits on the CPU fails:", e.message.splitlines()[0][:160])


if __name__ == "__main__":
    main()
