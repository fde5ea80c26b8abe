// Nearest-neighbour regression on a forest laid out by depth (chapter 5; Brill 2024, App. H),
// for a batch of training sets given by thresholds, never materialising a mask.
//
// Node i trains under set b iff !excluded[i] && score[i] < thresh[b * K + cluster[i]].  Keys are
// dist * 2^32 + index of the nearest training node (ties: the smaller index), found by two
// sweeps: up (children -> parent, nodes in decreasing index, since every parent precedes its
// children) and down (parent -> children, increasing index).  The same integers as the numpy and
// torch level sweeps in models/tree_nn.py.  Sets go in blocks of 4 (interleaved keys) over OpenMP
// threads: one buffer of 4n int64 per thread.
#include <cstdint>
#include <cmath>
#include <vector>
#include <omp.h>

static const int64_t STEP = int64_t(1) << 32;
static const int64_t INF = int64_t(1) << 62;

// One sweep pair for KB sets at once: keys interleaved (node-major), so every parent, cluster and
// score read and every cache line of keys serves KB sets.
template <int KB>
static void sweep(int64_t n, int64_t K, int64_t n_at, const int32_t* parent,
                  const int32_t* cluster, const double* score, const uint8_t* excluded,
                  const double* th /* (K, KB) */, const int64_t* at, const double* y,
                  const double* sqrt_size_at, int shrink, double* const* out, int64_t* key) {
    for (int64_t i = 0; i < n; ++i) {
        const double* t = th + (int64_t)cluster[i] * KB;
        const double sc = score[i];
        const bool ex = excluded[i] != 0;
        for (int b = 0; b < KB; ++b) key[i * KB + b] = (!ex && sc < t[b]) ? i : INF;
    }
    for (int64_t i = n - 1; i >= 0; --i) {
        const int32_t p = parent[i];
        if (p < 0) continue;
        int64_t* kp = key + (int64_t)p * KB;
        const int64_t* ki = key + i * KB;
        for (int b = 0; b < KB; ++b) {
            const int64_t c = ki[b] + STEP;
            kp[b] = c < kp[b] ? c : kp[b];
        }
    }
    for (int64_t i = 0; i < n; ++i) {
        const int32_t p = parent[i];
        if (p < 0) continue;
        const int64_t* kp = key + (int64_t)p * KB;
        int64_t* ki = key + i * KB;
        for (int b = 0; b < KB; ++b) {
            const int64_t c = kp[b] + STEP;
            ki[b] = c < ki[b] ? c : ki[b];
        }
    }
    for (int b = 0; b < KB; ++b) {
        double* o = out[b];
        for (int64_t j = 0; j < n_at; ++j) {
            const int64_t k = key[at[j] * KB + b];
            if (k >= INF) { o[j] = 0.0; continue; }
            const double v = y[k & (STEP - 1)];
            o[j] = shrink ? v / (1.0 + (double)(k >> 32) / sqrt_size_at[j]) : v;
        }
    }
}

static const int BLOCK = 4;

extern "C" int tree_nn_predict(int64_t n, int64_t K, int64_t B, int64_t n_at,
                               const int32_t* parent, const int32_t* cluster,
                               const double* score, const uint8_t* excluded,
                               const double* thresh, const int64_t* at, const double* y,
                               const double* sqrt_size_at, int shrink, double* out,
                               int n_threads) {
    // blocks of BLOCK sets, then single sets for the remainder
    const int64_t n_full = B / BLOCK, n_jobs = n_full + (B - n_full * BLOCK);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > n_jobs) n_threads = (int)(n_jobs > 0 ? n_jobs : 1);
#pragma omp parallel num_threads(n_threads)
    {
        std::vector<int64_t> key;
        std::vector<double> th;
        double* outs[BLOCK];
#pragma omp for schedule(dynamic, 1)
        for (int64_t job = 0; job < n_jobs; ++job) {
            const int64_t b0 = job < n_full ? job * BLOCK : n_full * BLOCK + (job - n_full);
            const int kb = job < n_full ? BLOCK : 1;
            key.resize((size_t)(n * kb));
            th.resize((size_t)(K * kb));
            for (int64_t c = 0; c < K; ++c)
                for (int b = 0; b < kb; ++b) th[c * kb + b] = thresh[(b0 + b) * K + c];
            for (int b = 0; b < kb; ++b) outs[b] = out + (b0 + b) * n_at;
            if (kb == BLOCK)
                sweep<BLOCK>(n, K, n_at, parent, cluster, score, excluded, th.data(), at, y,
                             sqrt_size_at, shrink, outs, key.data());
            else
                sweep<1>(n, K, n_at, parent, cluster, score, excluded, th.data(), at, y,
                         sqrt_size_at, shrink, outs, key.data());
        }
    }
    return 0;
}

// Check that the layout is what the sweeps assume: every parent precedes its child.
extern "C" int64_t tree_nn_check_layout(int64_t n, const int32_t* parent) {
    for (int64_t i = 0; i < n; ++i)
        if (parent[i] >= i) return i;
    return -1;
}
