#include "queue.h"

#include <math.h>

double
rag_queue_backoff(int attempts, double base_s, double cap_s, double jitter01)
{
    double d;

    if (attempts < 1)
        attempts = 1;
    d = base_s * pow((double)attempts, 4.0);
    if (d > cap_s)
        d = cap_s;
    if (jitter01 < 0)
        jitter01 = 0;
    if (jitter01 > 1)
        jitter01 = 1;
    return d * (0.9 + 0.2 * jitter01);
}
