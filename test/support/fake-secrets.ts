/** Synthetic values with the shapes of real secrets and of the ids that must stay readable next to them. */

/** An AWS secret access key: 40 characters of A-Za-z0-9/+, both letter cases. */
export const FAKE_AWS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKE1';
/** A Jenkins API token: 11 and 32 hex digits. */
export const FAKE_JENKINS_TOKEN = `11${'3f'.repeat(16)}`;
export const FAKE_PASSWORD = 'hunter2-Fake';
/** A ClientRequestToken. */
export const REQUEST_UUID = '3f2c8a8e-7d5b-4b8e-9a77-2f1e0c6a9b10';
export const GIT_SHA = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3';
export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:jenkins/prod/aws-key-AbC123';
