# escape=`
FROM mcr/windows/servercore:ltsc2022
SHELL ["powershell", "-Command"]
RUN Write-Host hello; `
    # a comment in the continuation
    Write-Host world
COPY app\ C:\app\
WORKDIR C:\app
CMD ["C:\\app\\run.exe", `
     "--flag"]
