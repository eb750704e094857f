// vectors_faiss — the same vectors, queries and exact top 10 as
// bench/vectors.c, searched with faiss (Debian's libfaiss-dev 1.7.3), one
// thread: IVF-Flat (float32 lists) and IVF-SQ8 (int8 lists, like ours)
// with the same number of lists, trained on the same number of points per
// list. The comparison behind the choice of an in-tree IVF.
//
// C++ because Debian's libfaiss-dev ships the C API's headers but its
// libfaiss.a contains none of the faiss_* functions (no libfaiss_c).
//
//   vectors_faiss WORKDIR N DIMS NLISTS
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexScalarQuantizer.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

static double
now_s()
{
    return std::chrono::duration<double>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static const float *
map_file(const std::string &p, size_t *len)
{
    int fd = open(p.c_str(), O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return nullptr;
    *len = (size_t)st.st_size;
    void *m = mmap(nullptr, *len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? nullptr : (const float *)m;
}

static void
run(const char *name, faiss::IndexIVF &ix, const float *q, size_t nq,
    size_t ntext, const uint32_t *gt, size_t lists)
{
    const int K = 10;
    std::vector<float> D(K);
    std::vector<faiss::Index::idx_t> I(K);
    for (size_t p : {1, 2, 4, 8, 16, 32, 64}) {
        if (p >= lists)
            continue;
        ix.nprobe = p;
        std::vector<double> lat;
        size_t found[2] = {0, 0};
        for (int round = -1; round < 3; round++)
            for (size_t i = 0; i < nq; i++) {
                double t0 = now_s();
                ix.search(1, q + i * ix.d, K, D.data(), I.data());
                double dt = (now_s() - t0) * 1e3;
                if (round >= 0)
                    lat.push_back(dt);
                if (round == 0)
                    for (int a = 0; a < K; a++)
                        for (int b = 0; b < K; b++)
                            found[i >= ntext] += I[a] == gt[i * K + b];
            }
        std::sort(lat.begin(), lat.end());
        printf("%-10s n_probe %-3zu %9.2f %9.2f %10.3f %6.3f/%.3f\n", name, p,
               lat[lat.size() / 2], lat[(size_t)(lat.size() * 0.99)],
               (found[0] + found[1]) / (double)(nq * K),
               found[0] / (double)(ntext * K),
               found[1] / (double)((nq - ntext) * K));
        fflush(stdout);
    }
}

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s WORKDIR N DIMS NLISTS\n", argv[0]);
        return 2;
    }
    std::string w = argv[1];
    size_t n = strtoull(argv[2], nullptr, 10), d = atoi(argv[3]),
           lists = atoi(argv[4]), len;
    omp_set_num_threads(1);
    const float *x = map_file(w + "/vecs.f32", &len);
    const float *q = map_file(w + "/queries.f32", &len);
    size_t nq = len / (d * sizeof(float)), ntext = nq / 2;
    const uint32_t *gt = (const uint32_t *)map_file(w + "/gt.u32", &len);
    if (!x || !q || !gt)
        return 1;
    // the same training set size as the tree's writer: 64 per list,
    // evenly spaced
    size_t ns = std::min(n, lists * 64);
    std::vector<float> sample(ns * d);
    for (size_t i = 0; i < ns; i++)
        std::copy(x + (i * n / ns) * d, x + (i * n / ns + 1) * d,
                  sample.begin() + i * d);
    printf("%-10s %-11s %9s %9s %10s %12s\n", "faiss", "", "p50 ms", "p99 ms",
           "recall@10", "(text/para)");
    {
        faiss::IndexFlatIP quant(d);
        faiss::IndexIVFFlat ix(&quant, d, lists, faiss::METRIC_INNER_PRODUCT);
        double t0 = now_s();
        ix.train(ns, sample.data());
        ix.add(n, x);
        printf("ivf-flat build (train + add) %.1f s, %.0f MB of lists\n",
               now_s() - t0, n * d * 4 / 1e6);
        run("ivf-flat", ix, q, nq, ntext, gt, lists);
    }
    {
        faiss::IndexFlatIP quant(d);
        faiss::IndexIVFScalarQuantizer ix(&quant, d, lists,
                                          faiss::ScalarQuantizer::QT_8bit,
                                          faiss::METRIC_INNER_PRODUCT);
        double t0 = now_s();
        ix.train(ns, sample.data());
        ix.add(n, x);
        printf("ivf-sq8 build (train + add) %.1f s, %.0f MB of lists\n",
               now_s() - t0, n * d / 1e6);
        run("ivf-sq8", ix, q, nq, ntext, gt, lists);
    }
    return 0;
}
