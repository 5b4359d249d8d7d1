// Helpers shared by the memory-bound kernels (norm, softmax, elementwise, layout,
// embedding, resize). Include after `common.glsl`.
#ifndef FUSIONKIT_LIGHT_OPS_GLSL
#define FUSIONKIT_LIGHT_OPS_GLSL 1

// Workgroup size: specialization constant 0 (every kernel of this family sets it). Kernels
// use WG, never gl_WorkGroupSize: some compiler stacks fold gl_WorkGroupSize to the
// declared default inside helper functions instead of the specialized value.
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

// Linear workgroup index: EncodeContext.dispatch folds x group counts over the device
// limit into y, so every kernel recovers the flat index this way and bounds-checks it.
uint linearGroupIndex() {
    return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
}

// Flat invocation index for one-thread-per-item kernels.
uint linearInvocationIndex() {
    return linearGroupIndex() * WG + gl_LocalInvocationID.x;
}

#endif // FUSIONKIT_LIGHT_OPS_GLSL
