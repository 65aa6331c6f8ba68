// ThreadSanitizer does not intercept C11's threads.h calls (GCC 12's libtsan), and librdkafka
// uses them: it starts its threads with thrd_create, so TSan has no state for those threads and
// crashes in their first malloc, and it locks with mtx_lock and waits with cnd_wait, so TSan sees
// none of its locking and reports every hand-over through its queues as a race. tools/tsan
// preloads this library into every process of its runs: the C11 calls go through the pthread calls
// TSan does intercept. glibc implements the C11 calls on the same objects (thrd_t is pthread_t, a
// thread's int result its void * result, mtx_t and cnd_t are pthread_mutex_t and pthread_cond_t),
// so the replacements behave as glibc's own.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct start {
  thrd_start_t func;
  void* arg;
};

static void* trampoline(void* p) {
  struct start s = *(struct start*)p;
  free(p);
  return (void*)(intptr_t)s.func(s.arg);
}

static int c11_result(int err) {
  if (err == 0) return thrd_success;
  return err == ENOMEM ? thrd_nomem : err == EBUSY ? thrd_busy : thrd_error;
}

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  struct start* s = malloc(sizeof *s);
  if (s == NULL) return thrd_nomem;
  s->func = func;
  s->arg = arg;
  int err = pthread_create((pthread_t*)thr, NULL, trampoline, s);
  if (err != 0) free(s);
  return c11_result(err);
}

int thrd_join(thrd_t thr, int* res) {
  void* out = NULL;
  int err = pthread_join((pthread_t)thr, &out);
  if (err == 0 && res != NULL) *res = (int)(intptr_t)out;
  return c11_result(err);
}

int thrd_detach(thrd_t thr) { return c11_result(pthread_detach((pthread_t)thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int err = pthread_mutex_init((pthread_mutex_t*)m, &attr);
  pthread_mutexattr_destroy(&attr);
  return c11_result(err);
}

int mtx_lock(mtx_t* m) { return c11_result(pthread_mutex_lock((pthread_mutex_t*)m)); }

int mtx_trylock(mtx_t* m) { return c11_result(pthread_mutex_trylock((pthread_mutex_t*)m)); }

int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict at) {
  int err = pthread_mutex_timedlock((pthread_mutex_t*)m, at);
  return err == ETIMEDOUT ? thrd_timedout : c11_result(err);
}

int mtx_unlock(mtx_t* m) { return c11_result(pthread_mutex_unlock((pthread_mutex_t*)m)); }

void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return c11_result(pthread_cond_init((pthread_cond_t*)c, NULL)); }

int cnd_signal(cnd_t* c) { return c11_result(pthread_cond_signal((pthread_cond_t*)c)); }

int cnd_broadcast(cnd_t* c) { return c11_result(pthread_cond_broadcast((pthread_cond_t*)c)); }

int cnd_wait(cnd_t* c, mtx_t* m) {
  return c11_result(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m));
}

int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict at) {
  int err = pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, at);
  return err == ETIMEDOUT ? thrd_timedout : c11_result(err);
}

void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }
