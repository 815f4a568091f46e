"""Networks, the first layer that imports TensorFlow: the Keras builder, frozen-graph reading and vetting,
import of the published graphs, weights, the scale probe, the runtimes' network wrappers and TFLite."""
