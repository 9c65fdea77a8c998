/* mockkafka: a standalone librdkafka mock cluster for integration tests and benchmarks.
 *
 *   mockkafka [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Starts N brokers (default 3) on random loopback ports, creates each --topic with its
 * partition count (replication factor min(N, 3)), prints the bootstrap servers on one line
 * to stdout and flushes, then runs until SIGTERM or SIGINT. Exit status: 0 after a signal,
 * 2 for a bad command line, 1 when the cluster cannot be started. Quirks of the mock (5 MiB
 * kept per partition, ~3 s first group join, ...): COMPONENTS.md §3. */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask, strndup */

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) {
  fprintf(stderr, "usage: mockkafka [--brokers N] [--topic NAME:PARTITIONS]...\n");
}

/* Parses a positive int in [1, max]; returns -1 when it is not one. */
static int parse_count(const char* s, int max) {
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max) return -1;
  return (int)v;
}

int main(int argc, char** argv) {
  int brokers = 3;
  int ntopics = 0;
  const char** topic_args = calloc((size_t)argc, sizeof *topic_args);
  if (topic_args == NULL) return 1;

  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
      brokers = parse_count(argv[++i], 100);
      if (brokers < 0) {
        fprintf(stderr, "mockkafka: --brokers: expected 1..100, got '%s'\n", argv[i]);
        return 2;
      }
    } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
      topic_args[ntopics++] = argv[++i];
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
      return 0;
    } else {
      fprintf(stderr, "mockkafka: unexpected argument '%s'\n", argv[i]);
      usage();
      return 2;
    }
  }

  /* Block the stop signals before librdkafka starts its threads (they inherit the mask), so
   * that sigwait() below is the only place they arrive. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  /* The mock cluster lives in a client handle; this one only hosts it. */
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "mockkafka: %s\n", errstr);
    return 1;
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == NULL) {
    fprintf(stderr, "mockkafka: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == NULL) {
    fprintf(stderr, "mockkafka: cannot create a mock cluster of %d brokers\n", brokers);
    rd_kafka_destroy(rk);
    return 1;
  }

  int status = 0;
  const int replication = brokers < 3 ? brokers : 3;
  for (int t = 0; t < ntopics && status == 0; ++t) {
    const char* arg = topic_args[t];
    const char* colon = strrchr(arg, ':');
    int partitions = colon != NULL ? parse_count(colon + 1, 100000) : -1;
    if (colon == NULL || colon == arg || partitions < 0) {
      fprintf(stderr, "mockkafka: --topic: expected NAME:PARTITIONS, got '%s'\n", arg);
      status = 2;
      break;
    }
    char* name = strndup(arg, (size_t)(colon - arg));
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, partitions, replication);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fprintf(stderr, "mockkafka: cannot create topic '%s': %s\n", name, rd_kafka_err2str(err));
      status = 1;
    }
    free(name);
  }

  if (status == 0) {
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  free(topic_args);
  return status;
}
