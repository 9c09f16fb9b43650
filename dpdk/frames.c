#include <errno.h>
#include <stdlib.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>

#include "frames.h"

struct vec_frames *vec_frames_new(uint32_t n, uint32_t stride)
{
	struct vec_frames *f;

	if (n == 0 || stride == 0 || stride > UINT16_MAX)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->buf = calloc(n, stride);
	f->len = calloc(n, sizeof(*f->len));
	if (f->buf == NULL || f->len == NULL) {
		vec_frames_free(f);
		return NULL;
	}
	f->n = n;
	f->stride = stride;
	return f;
}

void vec_frames_free(struct vec_frames *f)
{
	if (f == NULL)
		return;
	free(f->buf);
	free(f->len);
	free(f);
}

int vec_frames_send(const struct vec_frames *f, struct rte_mempool *mp,
		uint32_t first, uint16_t count, uint16_t port, uint16_t queue)
{
	struct rte_mbuf *m[VEC_FRAMES_BURST];
	uint32_t k = first;
	uint16_t i, sent;
	int r;

	if (count > VEC_FRAMES_BURST || first >= f->n)
		return -EINVAL;
	if (count == 0)
		return 0;
	r = rte_pktmbuf_alloc_bulk(mp, m, count);
	if (r < 0)
		return r;
	for (i = 0; i < count; i++) {
		uint16_t len = f->len[k];
		char *d = len <= f->stride ? rte_pktmbuf_append(m[i], len) : NULL;

		if (d == NULL) {
			rte_pktmbuf_free_bulk(m, count);
			return -EINVAL;
		}
		rte_memcpy(d, f->buf + (size_t)k * f->stride, len);
		if (++k == f->n)
			k = 0;
	}
	sent = rte_eth_tx_burst(port, queue, m, count);
	if (sent < count)
		rte_pktmbuf_free_bulk(m + sent, count - sent);
	return sent;
}
