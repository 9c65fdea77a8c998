/* placeholder: replaced by the Kafka source work */
int main(void) { return 0; }
