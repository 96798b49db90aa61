// `warren add --docker`'s errors: the container it names, and the Docker engine it asks.
import { WarrenError } from './base.js';

/** The container is not there or not running: the operator named the wrong one or must start it. Exit 2. */
export class DockerContainerError extends WarrenError {
  constructor(message: string) {
    super('WARREN_ERR_DOCKER_CONTAINER', message, { exitCode: 2 });
  }
}

/** The Docker client failed or did not answer in time (no engine, no permission): a runtime failure. */
export class DockerError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_ERR_DOCKER', message, { cause });
  }
}

/** The workspace's entry could not be written into the config file (it exists already, or the file is broken). Exit 2. */
export class ConfigWriteError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_ERR_CONFIG_WRITE', message, { exitCode: 2, cause });
  }
}
